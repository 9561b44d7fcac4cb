"""The weight mapping as data, generated from the architecture table: one rule per layer kind.

A :class:`Row` says which Keras weight of which layer becomes which PyTorch
state-dict key, through which named :class:`~parity.transforms.Transform`, and
what shape each side must have. Nothing here is hand-listed: the rows of the
reference network come from :data:`sepconv.spec.REFERENCE`, and the
``flatten_dense`` transform of the first Dense gets its ``(h, w, c)`` from
:func:`sepconv.spec.output_shapes`.

The transforms used are a :class:`TransformSet`, so a test can inject a broken
one (say, a depthwise transform with swapped axes) and see every check fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sepconv.arch import transforms as T
from sepconv.spec import INPUT_SHAPE, REFERENCE, LayerKind, LayerSpec, output_shapes, weighted_layers

__all__ = ["DEFAULT_TRANSFORMS", "Row", "TransformSet", "build_mapping"]


@dataclass(frozen=True)
class TransformSet:
    """The transform each kind of weight goes through (the reference: :mod:`parity.transforms`)."""

    conv: T.Transform = T.CONV
    depthwise: T.Transform = T.DEPTHWISE
    pointwise: T.Transform = T.POINTWISE
    dense: T.Transform = T.DENSE
    bias: T.Transform = T.IDENTITY
    flatten_dense: Callable[[int, int, int], T.Transform] = field(default=T.flatten_dense, compare=False)


DEFAULT_TRANSFORMS = TransformSet()


@dataclass(frozen=True)
class Row:
    """One weight: Keras ``(layer, keras_weight)`` <-> PyTorch ``torch_key``, via ``transform``.

    ``layer`` is the spec's layer name (a Keras source may call it ``separable_conv2d_1``;
    it is matched by position and kind, see :mod:`parity.keras_side`); ``torch_key`` is
    relative to the network (no ``net.`` prefix); the shapes are the ones the spec implies.
    """

    layer: str
    kind: LayerKind
    keras_weight: str
    torch_key: str
    transform: T.Transform
    keras_shape: tuple[int, ...]
    torch_shape: tuple[int, ...]


def _conv_rows(layer: LayerSpec, fin: int, ts: TransformSet) -> list[Row]:
    k, out = layer.kernel, layer.filters
    return [
        Row(
            layer.name, "conv", "kernel", f"{layer.name}.weight", ts.conv, (k, k, fin, out), (out, fin, k, k)
        ),
        Row(layer.name, "conv", "bias", f"{layer.name}.bias", ts.bias, (out,), (out,)),
    ]


def _sepconv_rows(layer: LayerSpec, fin: int, ts: TransformSet) -> list[Row]:
    k, out, n = layer.kernel, layer.filters, layer.name
    return [
        Row(
            n,
            "sepconv",
            "depthwise_kernel",
            f"{n}.conv_dw.weight",
            ts.depthwise,
            (k, k, fin, 1),
            (fin, 1, k, k),
        ),
        Row(
            n,
            "sepconv",
            "pointwise_kernel",
            f"{n}.conv_pw.weight",
            ts.pointwise,
            (1, 1, fin, out),
            (out, fin, 1, 1),
        ),
        Row(n, "sepconv", "bias", f"{n}.conv_pw.bias", ts.bias, (out,), (out,)),
    ]


def _dense_rows(layer: LayerSpec, fin: int, ts: TransformSet, flattened: tuple[int, ...] | None) -> list[Row]:
    out, n = layer.filters, layer.name
    kernel = ts.flatten_dense(*flattened) if flattened is not None and len(flattened) == 3 else ts.dense
    return [
        Row(n, "dense", "kernel", f"{n}.weight", kernel, (fin, out), (out, fin)),
        Row(n, "dense", "bias", f"{n}.bias", ts.bias, (out,), (out,)),
    ]


def _flattened_inputs(
    spec: Sequence[LayerSpec], input_shape: tuple[int, int, int]
) -> dict[str, tuple[int, ...]]:
    """For each layer right after a Flatten: the channels-last shape that Flatten received."""
    shapes = output_shapes(spec, input_shape)
    result: dict[str, tuple[int, ...]] = {}
    previous: tuple[int, ...] = input_shape
    for before, layer in itertools.pairwise(spec):
        if before.kind == "flatten":
            result[layer.name] = previous
        previous = shapes[before.name]
    return result


def build_mapping(
    spec: Sequence[LayerSpec] = REFERENCE,
    transforms: TransformSet = DEFAULT_TRANSFORMS,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
) -> tuple[Row, ...]:
    """All rows of ``spec``, in layer order and, within a layer, in Keras' weight order."""
    flattened = _flattened_inputs(spec, input_shape)
    rows: list[Row] = []
    for layer, fin in weighted_layers(spec, input_shape):
        if layer.kind == "conv":
            rows += _conv_rows(layer, fin, transforms)
        elif layer.kind == "sepconv":
            rows += _sepconv_rows(layer, fin, transforms)
        else:
            rows += _dense_rows(layer, fin, transforms, flattened.get(layer.name))
    return tuple(rows)
