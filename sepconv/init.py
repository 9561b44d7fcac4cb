"""Keras' initializer arithmetic, so PyTorch weights start from the same distributions.

Keras computes fans from its own kernel layout: for a kernel of shape
``(kh, kw, ..., in, out)`` the receptive field is ``kh * kw``,
``fan_in = in * kh * kw`` and ``fan_out = out * kh * kw``. For a depthwise
kernel ``(kh, kw, C, 1)`` that gives ``fan_in = 9C``, ``fan_out = 9`` (PyTorch's
own rule on ``(C, 1, kh, kw)`` would give the reverse).

Initializers: ``glorot_uniform`` (Keras' default, the reference), ``lecun_normal``
(Keras' rule, so depthwise kernels get ``fan_in = 9C``) and ``lecun_normal_dw``:
LeCun normal where a depthwise kernel's fan-in is the ``kh * kw`` inputs each of
its outputs actually sees, which is what SELU's self-normalisation assumes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

__all__ = ["INITIALIZERS", "Initializer", "init_scale", "keras_fans"]

Initializer = Literal["glorot_uniform", "lecun_normal", "lecun_normal_dw"]
INITIALIZERS: tuple[str, ...] = ("glorot_uniform", "lecun_normal", "lecun_normal_dw")

#: std of a unit normal truncated to [-2, 2]; Keras divides by it so the truncated draw has the target std.
TRUNCATED_NORMAL_STD = 0.87962566103423978


def keras_fans(keras_shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a kernel in Keras layout ``(..., in, out)``."""
    if len(keras_shape) < 2:
        raise ValueError(f"a kernel shape has at least 2 dims, received {tuple(keras_shape)}")
    receptive = math.prod(keras_shape[:-2])
    return keras_shape[-2] * receptive, keras_shape[-1] * receptive


def init_scale(initializer: str, keras_shape: Sequence[int], depthwise: bool = False) -> float:
    """The uniform limit (``glorot_uniform``) or the pre-truncation normal std (``lecun_normal*``).

    ``depthwise`` marks a depthwise kernel ``(kh, kw, C, 1)``; only ``lecun_normal_dw`` treats it differently.
    """
    fan_in, fan_out = keras_fans(keras_shape)
    if initializer == "glorot_uniform":
        return math.sqrt(6.0 / (fan_in + fan_out))
    if initializer in ("lecun_normal", "lecun_normal_dw"):
        if initializer == "lecun_normal_dw" and depthwise:
            fan_in = math.prod(keras_shape[:-2])
        return math.sqrt(1.0 / fan_in) / TRUNCATED_NORMAL_STD
    raise ValueError(f"initializer must be one of {INITIALIZERS}, received {initializer!r}")
