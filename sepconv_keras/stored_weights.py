"""The arrays a Keras model file stores, as stored: read before Keras casts them into the model.

Keras loads an ``int32`` kernel into the model's float32 variable without a word (truncated values, e.g.
all zeros), so the dtype must be read from the file itself. A ``.keras`` archive holds its arrays in
``model.weights.h5``; a legacy ``.h5`` model holds them under ``model_weights/``. Optimizer state (an
``int64`` step counter among it) is not model weights and is left out.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import h5py
import numpy as np

__all__ = ["stored_weights"]


def _arrays(f: h5py.File) -> dict[str, np.ndarray]:
    root = f.get("model_weights", f)
    arrays: dict[str, np.ndarray] = {}

    def read(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset) and not name.startswith("optimizer"):
            arrays[name] = item[()]

    root.visititems(read)
    return arrays


def stored_weights(path: Path) -> dict[str, np.ndarray]:
    """``{array path in the file: array}`` of the model weights stored in ``path`` (.keras or .h5)."""
    if path.suffix.lower() == ".keras":
        with zipfile.ZipFile(path) as archive:
            if "model.weights.h5" not in archive.namelist():
                return {}
            data = archive.read("model.weights.h5")
        with h5py.File(io.BytesIO(data), "r") as f:
            return _arrays(f)
    with h5py.File(path, "r") as f:
        return _arrays(f)
