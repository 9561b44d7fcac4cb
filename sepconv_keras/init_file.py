"""``sepconv-keras train --architecture model.keras --init-from-file``: the built model starts from the
file's weights (fine-tuning), BatchNorm moving statistics included; the optimizer starts afresh.

The file is read as data, with h5py and JSON only (:func:`sepconv.arch.keras_weights.keras_file_weights`:
each weight matched to the file's description by layer name and shape, all checked finite); each layer of
the built model gets its arrays by name, shapes checked again against the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sepconv.arch import Architecture, to_dict, weight_rows
from sepconv.arch.keras_weights import keras_file_weights
from sepconv.errors import InputError

__all__ = ["CONSEQUENCE", "load_keras_file"]

#: what a refusal of the file's weights ends with
CONSEQUENCE = "training would start from them; nothing was trained"


def load_keras_file(model: Any, description: Architecture, path: str | Path) -> int:
    """Set every weight of ``model`` (built from ``description``) from the Keras model file ``path``;
    returns the number of arrays set. One-line refusals (a ``ValueError``) name the file."""
    path = Path(path)
    arch, arrays = keras_file_weights(path, CONSEQUENCE, InputError)
    if to_dict(arch) != to_dict(description):
        raise InputError(
            f"{path}: describes network {arch.name!r}, not the one built "
            f"({description.name!r}): the file changed since its description was read"
        )
    per_layer: dict[str, list[np.ndarray]] = {}
    for row, array in zip(weight_rows(arch), arrays, strict=True):
        per_layer.setdefault(row.layer, []).append(array)
    unfilled = [layer.name for layer in model.layers if layer.weights and layer.name not in per_layer]
    if unfilled:
        raise InputError(f"{path}: holds no weights for layers {', '.join(unfilled)} of the built model")
    for name, arrays in per_layer.items():
        layer = model.get_layer(name)
        shapes = [tuple(int(d) for d in v.shape) for v in layer.weights]
        if shapes != [a.shape for a in arrays]:
            raise InputError(
                f"{path}: layer {name!r} holds shapes {[a.shape for a in arrays]}, the built model {shapes}"
            )
        layer.set_weights(arrays)
    return len(arrays)
