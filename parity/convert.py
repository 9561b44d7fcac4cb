"""Weight transfer between Keras and PyTorch models: validate every row, then assign all or nothing.

``keras_to_torch`` and ``torch_to_keras`` (and :func:`transfer`, which also
copies Keras to Keras or PyTorch to PyTorch through the same validation) first
find each mapping row's weight in both models, compare the shapes with the ones
the spec implies, and transform every source array; only if all of that
succeeded does anything get written. Otherwise one
:class:`~parity.errors.WeightMismatchError` lists every problem and the target
is left as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import keras
import numpy as np
import torch
from torch import nn

import sepconv_keras
import sepconv_torch
from parity.errors import WeightMismatchError
from parity.keras_side import keras_slots
from parity.mapping import DEFAULT_TRANSFORMS, Row, TransformSet, build_mapping
from parity.slots import SlotMatch
from parity.torch_side import torch_slots
from sepconv.spec import REFERENCE, LayerSpec

__all__ = ["Model", "keras_to_torch", "torch_to_keras", "transfer"]

Model = keras.Model | nn.Module | Mapping[str, Any]
M = TypeVar("M", keras.Model, nn.Module)


def _side(model: Model) -> str:
    return "keras" if isinstance(model, keras.Model) else "torch"


def _match(model: Model, rows: Sequence[Row]) -> SlotMatch:
    return keras_slots(model, rows) if isinstance(model, keras.Model) else torch_slots(model, rows)


def _found(shape: tuple[int, ...] | None) -> str:
    return "nothing" if shape is None else str(shape)


def transfer(src: Model, dst: M, rows: Sequence[Row]) -> M:
    """Copy every row's weight from ``src`` into ``dst`` (either framework each), all or nothing.

    Raises :class:`WeightMismatchError` listing every missing, unexpected or
    mis-shaped weight (naming the source and target layers and both shapes),
    with ``dst`` unchanged.
    """
    if isinstance(dst, Mapping):
        raise TypeError(f"the target must be a keras.Model or torch.nn.Module, received {type(dst).__name__}")
    src_side, dst_side = _side(src), _side(dst)
    source, target = _match(src, rows), _match(dst, rows)
    problems: list[str] = []
    arrays: list[np.ndarray] = []
    for row, s, d in zip(rows, source.slots, target.slots, strict=False):
        want_src = row.keras_shape if src_side == "keras" else row.torch_shape
        want_dst = row.keras_shape if dst_side == "keras" else row.torch_shape
        where = f"{s.label} -> {d.label} (spec {row.layer!r} {row.keras_weight})"
        if s.shape != want_src:
            problems.append(f"{where}: expected {want_src}, found {_found(s.shape)} in the source")
        if d.shape != want_dst:
            problems.append(f"{where}: expected {want_dst}, found {_found(d.shape)} in the target")
        if s.shape != want_src or d.shape != want_dst or s.read is None:
            continue
        value = s.read()
        if src_side != dst_side:
            value = row.transform.to_torch(value) if dst_side == "torch" else row.transform.to_keras(value)
        if value.shape != d.shape:
            problems.append(
                f"{where}: transform {row.transform.name!r} made {value.shape}, the target has {d.shape}"
            )
        arrays.append(value)
    problems += [f"source: {p}" for p in source.unexpected] + [f"target: {p}" for p in target.unexpected]
    if problems:
        raise WeightMismatchError(problems, what=f"{src_side} -> {dst_side} weight transfer")
    for d, value in zip(target.slots, arrays, strict=False):
        assert d.write is not None  # every slot with a shape has a writer
        d.write(value)
    return dst


def _rows(spec: Sequence[LayerSpec], transforms: TransformSet, rows: Sequence[Row] | None) -> Sequence[Row]:
    return rows if rows is not None else build_mapping(spec, transforms)


def _source_dtype(src: Model, rows: Sequence[Row]) -> str:
    slot = next((s for s in _match(src, rows).slots if s.read is not None), None)
    return "float64" if slot is not None and slot.read().dtype == np.float64 else "float32"


def keras_to_torch(
    src: keras.Model,
    dst: nn.Module | None = None,
    *,
    spec: Sequence[LayerSpec] = REFERENCE,
    transforms: TransformSet = DEFAULT_TRANSFORMS,
    rows: Sequence[Row] | None = None,
) -> nn.Module:
    """Copy a Keras model's weights into ``dst`` (a SepConvNet, a LightningModule holding one as ``net``, or
    any structurally equal network); ``None`` builds :func:`sepconv_torch.build_model` (float64 if ``src`` is)."""
    rows = _rows(spec, transforms, rows)
    if dst is None:
        dst = sepconv_torch.build_model(spec)
        if _source_dtype(src, rows) == "float64":
            dst = dst.double()
    return transfer(src, dst, rows)


def torch_to_keras(
    src: nn.Module | Mapping[str, torch.Tensor],
    dst: keras.Model | None = None,
    *,
    spec: Sequence[LayerSpec] = REFERENCE,
    transforms: TransformSet = DEFAULT_TRANSFORMS,
    rows: Sequence[Row] | None = None,
) -> keras.Model:
    """Copy a PyTorch network's weights (a module, LightningModule or state dict, ``net.`` prefix or not)
    into ``dst``; ``None`` builds :func:`sepconv_keras.build_model` (float64 if ``src`` is)."""
    rows = _rows(spec, transforms, rows)
    if dst is None:
        dst = sepconv_keras.build_model(spec, dtype=_source_dtype(src, rows))
    return transfer(src, dst, rows)
