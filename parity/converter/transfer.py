"""Weight transfer between Keras and PyTorch models: validate every row, then assign all or nothing.

``keras_to_torch`` and ``torch_to_keras`` (and :func:`transfer`, which also
copies Keras to Keras or PyTorch to PyTorch through the same validation) first
find each mapping row's weight in both models, compare the shapes with the ones
the spec implies and the dtypes with each other, and transform every source
array; only if all of that succeeded does anything get written. Otherwise one
:class:`~parity.converter.errors.WeightMismatchError` holds a record of every
problem and the target is left as it was. A dtype difference is a mismatch
unless the caller passes ``cast=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import keras
import numpy as np
from torch import nn

from parity.converter.errors import Mismatch, Side, WeightMismatchError
from parity.converter.keras_weights import keras_slots
from parity.converter.mapping import Row
from parity.converter.slots import Slot, SlotMatch
from parity.converter.stored import StoredKerasModel
from parity.converter.torch_weights import torch_slots

__all__ = ["Model", "framework_of", "transfer"]

Model = keras.Model | StoredKerasModel | nn.Module | Mapping[str, Any]
M = TypeVar("M", keras.Model, nn.Module)


def framework_of(model: Model) -> str:
    """``keras`` or ``torch``; ``TypeError`` for anything that is neither a model nor a state dict."""
    if isinstance(model, keras.Model | StoredKerasModel):
        return "keras"
    if isinstance(model, nn.Module | Mapping):
        return "torch"
    raise TypeError(
        "expected a keras.Model, a torch.nn.Module or a state dict (a Mapping of tensors), "
        f"received {type(model).__name__}"
    )


def _match(model: Model, rows: Sequence[Row]) -> SlotMatch:
    return keras_slots(model, rows) if framework_of(model) == "keras" else torch_slots(model, rows)


def _unexpected(side: Side, slot: Slot) -> Mismatch:
    return Mismatch(
        "unexpected", side, None, slot.layer, slot.weight, None, None, slot.shape, slot.dtype, slot.label
    )


def _check_row(row: Row, s: Slot, d: Slot, src: str, dst: str, cast: bool) -> list[Mismatch]:
    """The shape mismatches of one row on both sides, then (shapes right) its dtype mismatch."""
    found: list[Mismatch] = []
    for side, slot, other, framework in (("source", s, d, src), ("target", d, s, dst)):
        want = row.keras_shape if framework == "keras" else row.torch_shape
        if slot.shape != want:
            kind = "missing" if slot.shape is None else "shape"
            found.append(
                Mismatch(
                    kind,
                    side,
                    row,
                    slot.layer,
                    slot.weight,
                    want,
                    other.dtype,
                    slot.shape,
                    slot.dtype,
                    slot.label,
                    other.label,
                )
            )
    if not found and not cast and s.dtype != d.dtype:
        found.append(
            Mismatch(
                "dtype",
                "source",
                row,
                s.layer,
                s.weight,
                row.keras_shape if src == "keras" else row.torch_shape,
                d.dtype,
                s.shape,
                s.dtype,
                s.label,
                d.label,
            )
        )
    return found


def transfer(src: Model, dst: M, rows: Sequence[Row], *, cast: bool = False) -> M:
    """Copy every row's weight from ``src`` into ``dst`` (either framework each), all or nothing.

    Raises :class:`WeightMismatchError` with a record of every missing, unexpected, mis-shaped or
    (unless ``cast``) differently typed weight, with ``dst`` unchanged.
    """
    if not isinstance(dst, keras.Model | nn.Module):
        raise TypeError(f"the target must be a keras.Model or torch.nn.Module, received {type(dst).__name__}")
    src_side, dst_side = framework_of(src), framework_of(dst)
    source, target = _match(src, rows), _match(dst, rows)
    mismatches: list[Mismatch] = []
    arrays: list[np.ndarray] = []
    for row, s, d in zip(rows, source.slots, target.slots, strict=True):
        problems = _check_row(row, s, d, src_side, dst_side, cast)
        mismatches += problems
        if problems or s.read is None:
            continue
        value = s.read()
        if src_side != dst_side:
            value = row.transform.to_torch(value) if dst_side == "torch" else row.transform.to_keras(value)
        if value.shape != d.shape:
            mismatches.append(
                Mismatch(
                    "shape",
                    "target",
                    row,
                    d.layer,
                    d.weight,
                    d.shape,
                    d.dtype,
                    value.shape,
                    str(value.dtype),
                    f"{d.label} (transform {row.transform.name!r} made {value.shape})",
                    s.label,
                )
            )
        arrays.append(value)
    mismatches += [_unexpected("source", s) for s in source.unexpected]
    mismatches += [_unexpected("target", s) for s in target.unexpected]
    if mismatches:
        raise WeightMismatchError(mismatches, what=f"{src_side} -> {dst_side} weight transfer")
    for d, value in zip(target.slots, arrays, strict=True):
        assert d.write is not None  # every slot with a shape has a writer
        d.write(value)
    return dst
