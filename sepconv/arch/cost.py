"""Multiply-adds of a described network, per layer, from its description alone.

A convolution's kernel ``(kh, kw, in, out)`` (Keras' layout) does ``kh * kw * in * out`` multiply-adds
at each output position, so a layer costs ``prod(kernel shape) * H_out * W_out`` per image; a
``SeparableConv2D`` is the sum of its depthwise kernel ``(kh, kw, M, dm)`` and its pointwise kernel
``(1, 1, M * dm, N)`` at the output's ``H_out x W_out``, which is the seed's
``Dk*Dk*M*Df*Df + M*N*Df*Df`` (``dm = 1``) against ``Dk*Dk*M*N*Df*Df`` for a ``Conv2D``. A ``Dense``
kernel ``(in, units)`` costs ``in * units``. Biases, BatchNormalization, activations and pooling are
not counted, as ``torch.utils.flop_counter`` (and so Lightning's model summary) does not count them;
FLOPs are twice the multiply-adds.
"""

from __future__ import annotations

import math

from sepconv.arch.layers import Conv2D, Dense, DepthwiseConv2D, SeparableConv2D
from sepconv.arch.network import Architecture

__all__ = ["flops", "multiply_adds"]

_KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel")


def multiply_adds(arch: Architecture) -> dict[str, int]:
    """Multiply-adds per image of every convolution and Dense layer of ``arch``, in order."""
    found: dict[str, int] = {}
    for layer, shape in arch.inputs():
        if not isinstance(layer, Conv2D | SeparableConv2D | DepthwiseConv2D | Dense):
            continue
        kernels = [math.prod(s) for name, s, _ in layer.weights(shape) if name in _KERNELS]
        positions = math.prod(arch.shapes[layer.name][:-1])  # H_out * W_out; 1 for a (units,) output
        found[layer.name] = sum(kernels) * positions
    return found


def flops(arch: Architecture) -> int:
    """FLOPs of one image's forward pass: twice the multiply-adds."""
    return 2 * sum(multiply_adds(arch).values())
