"""Weight file formats, one module per family, in a registry keyed by extension.

==================  ==========  =============================================
extension           framework   contents
==================  ==========  =============================================
``.keras``          keras       a Keras 3 zip: ``config.json`` and ``model.weights.h5``
``.h5``             keras       a Keras 2 or 3 legacy HDF5 model (``ModelCheckpoint``)
``.weights.h5``     keras       Keras weights only (``save_weights``)
``.ckpt``           torch       a Lightning checkpoint of ``SepConvLitModule``
``.safetensors``    torch       the exchange format: PyTorch-layout tensors
``.pt`` / ``.pth``  torch       a PyTorch state dict (``torch.save``)
``.onnx``           torch       ONNX, export only, verified (:mod:`.deploy`)
``.pt2``            torch       ``torch.export`` program, export only, verified
==================  ==========  =============================================

Keras files are read with h5py and JSON only (:mod:`.keras_h5`): no Keras
object is built from a file's config, which is checked against the reference
structure instead. PyTorch files are read with ``torch.load(weights_only=True)``
or safetensors (:mod:`.torch_files`). A new family registers its
:class:`WeightFormat` entries with :func:`register`; the longest matching
extension wins (``.weights.h5`` before ``.h5``). Writers go through
:func:`~parity.converter.files.atomic.atomic_write`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from parity.converter.errors import WeightFileError

__all__ = [
    "FORMATS",
    "Framework",
    "WeightFormat",
    "check_file_weights",
    "file_kind",
    "format_of",
    "load_weights_file",
    "register",
    "save_weights_file",
    "weight_arrays",
]

Framework = Literal["keras", "torch"]


@dataclass(frozen=True)
class WeightFormat:
    """One file format: ``load(path)`` returns a model of ``framework`` (a ``StoredKerasModel`` or a state
    dict); ``save(model, path)`` writes a model of that framework to ``path`` (called on a temporary file).
    A format that ``records_metadata`` is saved as ``save(model, path, metadata)``: string pairs saying
    where the weights came from (:mod:`.provenance`), kept in the file."""

    extension: str
    framework: Framework
    description: str
    load: Callable[[Path], Any]
    save: Callable[..., None]
    records_metadata: bool = False


#: extension (lower case, with the dot) -> format
FORMATS: dict[str, WeightFormat] = {}


def register(*formats: WeightFormat) -> None:
    """Add formats to :data:`FORMATS` (a later registration of an extension replaces the earlier one)."""
    for fmt in formats:
        FORMATS[fmt.extension.lower()] = fmt


def format_of(path: str | os.PathLike[str]) -> WeightFormat:
    """The registered format whose extension ``path`` ends with (the longest); ``WeightFileError`` if none."""
    name = Path(path).name.lower()
    matches = [ext for ext in FORMATS if name.endswith(ext)]
    if not matches:
        raise WeightFileError(f"{path}: unknown extension; expected one of {', '.join(sorted(FORMATS))}")
    return FORMATS[max(matches, key=len)]


def file_kind(path: str | os.PathLike[str]) -> Framework:
    """``keras`` or ``torch``, from the extension."""
    return format_of(path).framework


def load_weights_file(path: str | os.PathLike[str]) -> Any:
    """A ``StoredKerasModel`` (Keras formats) or a state dict without ``net.`` prefix (PyTorch formats).

    Anything that is not a weight file of its extension's format becomes a
    :class:`WeightFileError` naming ``path``.
    """
    fmt = format_of(path)
    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise WeightFileError(f"{path}: empty file (0 bytes), expected a {fmt.extension} weight file")
    return fmt.load(path)


def weight_arrays(model: Any) -> dict[str, Any]:
    """``{name: NumPy array}`` of what :func:`load_weights_file` returns, for
    :func:`sepconv.weights.check_weights`: a ``StoredKerasModel``'s weights as ``"layer/weight"``, a
    state dict's tensors by key (bfloat16, which NumPy cannot hold, as float32)."""
    import numpy as np
    import torch

    from parity.converter.stored import StoredKerasModel

    if isinstance(model, StoredKerasModel):
        return {
            f"{layer.name}/{name}": np.asarray(array)
            for layer in model.layers
            for name, array in layer.weights
        }

    def numpy(value: Any) -> Any:
        if not isinstance(value, torch.Tensor):
            return np.asarray(value)
        tensor = value.detach().cpu()
        return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()

    return {key: numpy(value) for key, value in model.items()}


def check_file_weights(model: Any, path: str | os.PathLike[str], consequence: str) -> Any:
    """``model`` (as :func:`load_weights_file` returns it), or ``WeightFileError`` naming ``path``,
    each unusable weight (non-float dtype, NaN or Inf; :func:`sepconv.weights.check_weights`) and
    ``consequence``."""
    from sepconv.weights import check_weights

    check_weights(weight_arrays(model), path, consequence, WeightFileError)
    return model


def save_weights_file(
    model: Any, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write ``model`` (of the format's framework) to ``path`` atomically; returns ``path``.

    ``metadata`` is kept in formats that record it (:attr:`WeightFormat.records_metadata`).

    ``WeightFileError`` naming ``path`` if it cannot be written (no such folder, a directory, read-only).
    """
    from parity.converter.files.atomic import atomic_write
    from sepconv.paths import check_output_path

    fmt = format_of(path)
    check_output_path(path, error=WeightFileError)
    if fmt.records_metadata:
        return atomic_write(path, lambda tmp: fmt.save(model, tmp, dict(metadata or {})))
    return atomic_write(path, lambda tmp: fmt.save(model, tmp))


def _register_builtin() -> None:
    from parity.converter.files import deploy, keras_h5, torch_files

    register(*keras_h5.FORMATS, *torch_files.FORMATS, *deploy.FORMATS)


_register_builtin()
