"""``nn.Flatten`` whose gradient comes back in the input's channels-last memory format.

The network flattens ``(N, C, H, W)`` in ``(c, h, w)`` order (the converter permutes Keras' ``(h, w, c)``
rows of ``dense1`` to match). Its input is channels-last (strides ``(C*H*W, 1, W*C, C)``), so the
flatten is a copy, and PyTorch's backward of that copy is a view of the ``(N, C*H*W)`` gradient:
contiguous ``(N, C, H, W)``. The SELU and max-pool backward that follow then mix the two formats,
and ATen's max-pool backward takes a slow path for mixed formats (README "Performance").

:class:`Flatten` returns the same values (the same copy) and hands back the gradient copied into the
input's channels-last format, bit for bit the same numbers. Anything that is not a channels-last
4-D input with autograd recording, and any tracing, export or compilation (as for
:mod:`sepconv_torch.conv`'s backward), takes ``nn.Flatten``'s own path.
"""

from __future__ import annotations

import torch
from torch import nn

from sepconv_torch.conv import capturing_graph

__all__ = ["Flatten"]


class _FlattenChannelsLast(torch.autograd.Function):
    """``x.flatten(1)`` of a channels-last ``(N, C, H, W)`` ``x``; backward in channels-last."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape  # type: ignore[attr-defined]
        return x.flatten(1)  # (c, h, w) order: a copy, since x is not contiguous

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last)  # type: ignore[attr-defined]


def _takes_channels_last_path(x: torch.Tensor) -> bool:
    return (
        x.dim() == 4
        and torch.is_grad_enabled()
        and x.requires_grad
        and not x.is_contiguous()  # a contiguous input flattens as a view; nothing to fix
        and x.is_contiguous(memory_format=torch.channels_last)
        and not capturing_graph()
    )


class Flatten(nn.Flatten):
    """``nn.Flatten()`` (``(N, C, H, W)`` to ``(N, C*H*W)``, ``(c, h, w)`` order) with the gradient of a
    channels-last input returned channels-last (module docstring)."""

    def __init__(self) -> None:
        super().__init__(start_dim=1, end_dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _takes_channels_last_path(x):
            return _FlattenChannelsLast.apply(x)
        return super().forward(x)
