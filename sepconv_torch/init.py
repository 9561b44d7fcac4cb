"""Initialising PyTorch weights exactly as Keras initialises the same layers."""

from __future__ import annotations

import torch
from torch import nn

from sepconv.init import init_scale

__all__ = ["keras_init_", "keras_kernel_shape"]


def keras_kernel_shape(module: nn.Conv2d | nn.Linear) -> tuple[int, ...]:
    """The Keras shape of ``module.weight``.

    ``Conv2d`` ``(out, in/groups, kh, kw)`` -> ``(kh, kw, in, out)``; a depthwise
    conv ``(C, 1, kh, kw)`` -> ``(kh, kw, C, 1)``; ``Linear`` ``(out, in)`` -> ``(in, out)``.
    """
    w = module.weight
    if isinstance(module, nn.Linear):
        return (w.shape[1], w.shape[0])
    out, in_per_group, kh, kw = w.shape
    if module.groups > 1:
        return (kh, kw, module.in_channels, out // module.in_channels)
    return (kh, kw, in_per_group, out)


@torch.no_grad()
def keras_init_(
    model: nn.Module, initializer: str = "glorot_uniform", generator: torch.Generator | None = None
) -> None:
    """Re-initialise every ``Conv2d`` / ``Linear`` in ``model``: kernels by Keras' rule, biases zero."""
    for module in model.modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        depthwise = isinstance(module, nn.Conv2d) and module.groups > 1
        scale = init_scale(initializer, keras_kernel_shape(module), depthwise)
        if initializer == "glorot_uniform":
            module.weight.uniform_(-scale, scale, generator=generator)
        else:
            nn.init.trunc_normal_(module.weight, 0.0, scale, -2 * scale, 2 * scale, generator=generator)
        if module.bias is not None:
            module.bias.zero_()
