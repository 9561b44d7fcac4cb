"""Conversion of any network of the family (:mod:`sepconv.arch`), its description travelling with it.

A Keras source with a config (``.keras``, Keras 2/3 ``.h5``) is read as data, no Keras code run: the
description from the config (:func:`sepconv.arch.architecture_from_config`), the arrays by layer name
(:func:`parity.converter.files.keras_h5.layer_arrays`). A PyTorch file of a description carries it, so
nothing else is needed to read it back:

- ``.ckpt``: Lightning's checkpoint layout (``state_dict`` keys under ``net.``) plus
  ``checkpoint["sepconv_architecture"] = to_dict(arch)``;
- ``.pt`` / ``.pth``: ``{"sepconv_architecture": ..., "state_dict": ...}``;
- ``.safetensors``: the description as JSON in the metadata key ``sepconv.architecture``.

Every weight is matched to the description's rows (:func:`sepconv.arch.weight_rows`: name, shape,
Keras' order) and checked finite (:func:`sepconv.weights.check_weights`) before anything is built or
written. The arrays move through the rows' named transforms (pure permutations), so a round trip is
bit-exact in every dtype. PyTorch keys the description does not have are refused, except BatchNorm's
``num_batches_tracked`` (Keras keeps no such count: it is 0 after a Keras source).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from parity.converter.errors import WeightFileError
from parity.converter.files import WeightFormat, format_of
from parity.converter.files.atomic import atomic_write
from sepconv.arch import Architecture, ArchitectureError, from_dict, to_dict, weight_rows
from sepconv.arch.keras_files import architecture_from_config, read_keras_config
from sepconv.arch.keras_weights import check_arrays, described_arrays
from sepconv_torch.arch import ArchNet, build_torch
from sepconv_torch.arch.weights import to_keras_array, to_torch_array

__all__ = [
    "CHECKPOINT_KEY",
    "METADATA_KEY",
    "Described",
    "keras_described",
    "keras_model",
    "torch_described",
    "torch_network",
    "write_described",
]

#: the checkpoint (and ``.pt``) key holding the description as plain data
CHECKPOINT_KEY = "sepconv_architecture"
#: the safetensors metadata key holding the description as JSON
METADATA_KEY = "sepconv.architecture"
_COUNTER = "num_batches_tracked"


@dataclass(frozen=True)
class Described:
    """A network of the family as read from a file: its description and every weight in Keras' layout,
    in :func:`weight_rows` order; ``counters`` are PyTorch's BatchNorm batch counts when the source had
    them (key -> count)."""

    arch: Architecture
    arrays: tuple[np.ndarray, ...]
    source: str
    counters: Mapping[str, int] | None = None

    @property
    def dtype(self) -> str:
        """The weights' dtype name (``float32``, ``float64``)."""
        return str(self.arrays[0].dtype) if self.arrays else "float32"


#: what a refusal of unusable weights ends with, unless the caller says otherwise
CONSEQUENCE = "the converted model would be as broken, not written"


def _architecture(config: Path) -> Architecture:
    """The description in ``config``: a YAML description, or a Keras model config (``.json``, ``.keras``,
    ``.h5``) read as data."""
    from sepconv.arch import load_keras_architecture, load_yaml

    if config.suffix.lower() in (".yaml", ".yml"):
        return load_yaml(config)
    return load_keras_architecture(config)


def keras_described(
    path: Path, config: Path | None = None, consequence: str = CONSEQUENCE
) -> Described | None:
    """The description and weights of a Keras model file of the family, or of a weights file ``path``
    (``.weights.h5`` too) with its description in ``config``; ``None`` when there is no ``config`` and
    ``path`` holds no readable config (a weights-only file, not a Keras file at all).
    ``ArchitectureError`` naming the first layer outside the family; ``WeightFileError`` naming any
    weight that does not fit the description."""
    from parity.converter.files.keras_h5 import layer_arrays

    if format_of(path).framework != "keras":
        return None
    if config is not None:
        arch = _architecture(config)
    else:
        if path.name.lower().endswith(".weights.h5"):
            return None
        try:
            found = read_keras_config(path)
        except ArchitectureError:
            return None
        arch = architecture_from_config(found, str(path))
    arrays = described_arrays(arch, layer_arrays(path), str(path), consequence, WeightFileError)
    return Described(arch, arrays, str(path))


def _torch_object(path: Path) -> tuple[Any, Any] | None:
    """``(description data, state dict)`` of a PyTorch file that carries a description, else ``None``."""
    from parity.converter.files.torch_files import _torch_load

    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if METADATA_KEY not in meta:
                    return None
                state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
        except SafetensorError as error:
            raise WeightFileError(f"{path}: not a safetensors file: {error}") from error
        try:
            return json.loads(meta[METADATA_KEY]), state
        except json.JSONDecodeError as error:
            raise WeightFileError(f"{path}: metadata {METADATA_KEY} is not valid JSON ({error})") from error
    obj = _torch_load(path)
    if not isinstance(obj, dict) or CHECKPOINT_KEY not in obj:
        return None
    return obj[CHECKPOINT_KEY], obj.get("state_dict")


def torch_described(path: Path, consequence: str = CONSEQUENCE) -> Described | None:
    """The description and weights of a PyTorch file that carries a description; ``None`` for one that
    does not (the reference network's files). ``WeightFileError`` naming each key that does not fit."""
    if format_of(path).framework != "torch" or path.suffix.lower() not in (
        ".ckpt",
        ".pt",
        ".pth",
        ".safetensors",
    ):
        return None
    if not path.is_file() or path.stat().st_size == 0:
        return None  # the reference reader names these
    found = _torch_object(path)
    if found is None:
        return None
    data, state = found
    arch = from_dict(data, f"{path} ({CHECKPOINT_KEY})")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightFileError(f"{path}: 'state_dict' is not a dict of tensors")
    state = {k.removeprefix("net."): v for k, v in state.items()}
    rows = weight_rows(arch)
    known = {r.torch_key for r in rows}
    counters = {k: int(v) for k, v in state.items() if k.endswith(f".{_COUNTER}") and v.dim() == 0}
    extra = sorted(set(state) - known - set(counters))
    if extra:
        raise WeightFileError(f"{path}: keys the description {arch.name!r} does not have: {', '.join(extra)}")
    arrays = []
    for row in rows:
        tensor = state.get(row.torch_key)
        if tensor is None:
            raise WeightFileError(f"{path}: no {row.torch_key!r} ({row.layer}/{row.keras_weight})")
        if tuple(tensor.shape) != row.torch_shape:
            raise WeightFileError(
                f"{path}: {row.torch_key} has shape {tuple(tensor.shape)}, the description {row.torch_shape}"
            )
        if not tensor.is_floating_point() or tensor.dtype == torch.bfloat16:
            raise WeightFileError(f"{path}: {row.torch_key} is {tensor.dtype}; expected float32 or float64")
        arrays.append(to_keras_array(row, tensor.detach().cpu().numpy()))
    check_arrays(
        {r.torch_key: a for r, a in zip(rows, arrays, strict=True)}, str(path), consequence, WeightFileError
    )
    return Described(arch, tuple(arrays), str(path), counters)


def torch_network(described: Described) -> ArchNet:
    """An :class:`ArchNet` of the description holding the weights (in their dtype), eval mode."""
    net = build_torch(described.arch, dtype=getattr(torch, described.dtype)).eval()
    state = net.state_dict()
    with torch.no_grad():
        for row, array in zip(weight_rows(described.arch), described.arrays, strict=True):
            state[row.torch_key].copy_(torch.from_numpy(np.ascontiguousarray(to_torch_array(row, array))))
        for key, count in (described.counters or {}).items():
            if key in state:
                state[key].fill_(count)
    return net


def keras_model(described: Described) -> Any:
    """A Keras ``Sequential`` of the description holding the weights (in their dtype)."""
    from sepconv_keras.arch import build_keras

    model = build_keras(described.arch, dtype=described.dtype)
    per_layer: dict[str, list[np.ndarray]] = {}
    for row, array in zip(weight_rows(described.arch), described.arrays, strict=True):
        per_layer.setdefault(row.layer, []).append(array)
    for name, arrays in per_layer.items():
        model.get_layer(name).set_weights(arrays)
    return model


def _state(net: ArchNet) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}


def _checkpoint(net: ArchNet) -> dict[str, Any]:
    """Lightning's checkpoint layout (no ``loops`` key: Lightning then leaves its loops as they are)."""
    import lightning

    return {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": lightning.__version__,
        "state_dict": {f"net.{k}": v for k, v in _state(net).items()},
        "callbacks": {},
        "optimizer_states": [],
        "lr_schedulers": [],
        CHECKPOINT_KEY: to_dict(net.description),
    }


def _save_torch(net: ArchNet, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".ckpt":
        torch.save(_checkpoint(net), path)
    elif suffix == ".safetensors":
        from safetensors.torch import save_file

        from parity.converter.files.torch_files import SAFETENSORS_FORMAT

        meta = {
            "format": "pt",
            "sepconv.format": SAFETENSORS_FORMAT,
            "sepconv.layout": "torch",
            METADATA_KEY: json.dumps(to_dict(net.description)),
        }
        save_file(_state(net), str(path), metadata=meta)
    else:
        torch.save({CHECKPOINT_KEY: to_dict(net.description), "state_dict": _state(net)}, path)


def write_described(described: Described, dst: str | os.PathLike[str], target: WeightFormat) -> Path:
    """Write ``described`` to ``dst`` in ``target``'s format, atomically (nothing left behind on failure)."""
    dst = Path(dst)
    if target.extension in (".onnx", ".pt2"):  # verified by its runtime before it is kept
        from parity.converter.files.provenance import source_metadata

        meta = source_metadata(Path(described.source))
        net = torch_network(described).float()
        return atomic_write(dst, lambda tmp: target.save(net, tmp, dict(meta)))
    if target.extension == ".weights.h5":
        return atomic_write(dst, lambda tmp: keras_model(described).save_weights(tmp))
    if target.framework == "keras":
        return atomic_write(dst, lambda tmp: keras_model(described).save(tmp))
    return atomic_write(dst, lambda tmp: _save_torch(torch_network(described), tmp))
