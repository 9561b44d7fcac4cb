"""The weight mapping of a description as data: one row per Keras weight, generated, never hand-listed.

A :class:`WeightRow` says which Keras weight of which layer is which PyTorch state-dict key, through
which named transform (the names of ``sepconv.arch.transforms``: ``conv``, ``depthwise``,
``pointwise``, ``dense``, ``identity``), with the shape each side has. A ``depthwise`` kernel with
``depth_multiplier`` ``m`` is ``(kh, kw, C, m)`` in Keras and ``(C*m, 1, kh, kw)`` in PyTorch, output
channel ``c*m + k`` from ``[:, :, c, k]``. BatchNormalization's ``moving_mean`` / ``moving_variance``
are PyTorch buffers (``running_mean`` / ``running_var``), not parameters.

Flatten keeps Keras' ``(h, w, c)`` order in PyTorch (it permutes to channels-last first), so a Dense
after it takes the plain ``dense`` transform.
"""

from __future__ import annotations

from dataclasses import dataclass

from sepconv.arch.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Layer,
    SeparableConv2D,
    Shape,
)
from sepconv.arch.network import Architecture, module_name

__all__ = ["WeightRow", "weight_rows"]


@dataclass(frozen=True)
class WeightRow:
    """Keras ``(layer, keras_weight)`` <-> PyTorch ``torch_key`` via the transform named ``transform``."""

    layer: str
    keras_weight: str
    torch_key: str
    transform: str
    keras_shape: tuple[int, ...]
    torch_shape: tuple[int, ...]
    trainable: bool = True


def _torch_side(layer: Layer, weight: str, shape: tuple[int, ...]) -> tuple[str, str, tuple[int, ...]]:
    """``(key below the layer's module, transform name, PyTorch shape)`` of one Keras weight."""
    if weight == "bias":
        return ("conv_pw.bias" if isinstance(layer, SeparableConv2D) else "bias"), "identity", shape
    if isinstance(layer, BatchNormalization):
        key = {
            "gamma": "weight",
            "beta": "bias",
            "moving_mean": "running_mean",
            "moving_variance": "running_var",
        }
        return key[weight], "identity", shape
    if isinstance(layer, Conv2D):
        kh, kw, cin, cout = shape
        return "weight", "conv", (cout, cin, kh, kw)
    if isinstance(layer, DepthwiseConv2D | SeparableConv2D) and weight in ("kernel", "depthwise_kernel"):
        kh, kw, c, m = shape
        return (
            ("conv_dw.weight" if isinstance(layer, SeparableConv2D) else "weight"),
            "depthwise",
            (c * m, 1, kh, kw),
        )
    if isinstance(layer, SeparableConv2D):  # pointwise_kernel
        _, _, cin, cout = shape
        return "conv_pw.weight", "pointwise", (cout, cin, 1, 1)
    if isinstance(layer, Dense):
        fin, out = shape
        return "weight", "dense", (out, fin)
    raise AssertionError(f"{layer.where}: no mapping for weight {weight!r}")  # unreachable: kinds are closed


def layer_rows(layer: Layer, shape: Shape) -> list[WeightRow]:
    """The rows of one layer fed an input of ``shape``, in Keras' weight order."""
    rows = []
    for weight, keras_shape, trainable in layer.weights(shape):
        key, transform, torch_shape = _torch_side(layer, weight, keras_shape)
        rows.append(
            WeightRow(
                layer.name,
                weight,
                f"{module_name(layer.name)}.{key}",
                transform,
                keras_shape,
                torch_shape,
                trainable,
            )
        )
    return rows


def weight_rows(arch: Architecture) -> tuple[WeightRow, ...]:
    """All rows of ``arch``: layers in order, each layer's weights in Keras' order."""
    return tuple(row for layer, shape in arch.inputs() for row in layer_rows(layer, shape))
