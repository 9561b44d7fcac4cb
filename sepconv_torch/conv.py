"""``Conv2d`` whose CPU backward runs as three ATen calls instead of one oneDNN call.

PyTorch's CPU convolution backward (``aten::convolution_backward``, oneDNN) computes the input,
weight and bias gradients in one call. For this network's layers three separate calls are faster
(README "Performance"; ``python benchmarks/dropped_levers.py conv-backward``):

* input gradient: a *forward* convolution of the output gradient, ``(N, out, H, W)``, with the kernel
  flipped in H and W and, for groups 1, its in/out channels swapped (``(in, out, k, k)``); a depthwise
  kernel ``(C, 1, k, k)`` is only flipped. With stride 1 and "same" padding ``k // 2`` this is
  exactly the transposed convolution;
* weight gradient: ``convolution_backward`` asked for the weight alone;
* bias gradient: the output gradient summed over N, H and W.

The mathematics is the backward's; float32 results differ from the one-call path's only by summation
order (``tests/test_conv_backward.py`` bounds it; float64 agrees to 1e-15). The forward is the same
``F.conv2d`` call, bit for bit.

Taken only where it was measured: on the CPU, with autograd recording, outside autocast (bf16-mixed
keeps PyTorch's path) and export or compilation, with input and weight of one dtype, for a 4-D input,
stride 1, dilation 1, zero padding of ``k // 2`` on every side (``"same"`` for an odd square kernel),
and groups 1 or depthwise (groups = in = out channels). Anything else runs ``nn.Conv2d``'s own path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv2d", "capturing_graph"]


class _SplitBackwardConv(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, padding=k // 2, groups=groups)`` with the backward above."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        groups: int,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.groups, ctx.has_bias = groups, bias is not None
        return F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2, groups=groups)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        groups, pad = ctx.groups, weight.shape[-1] // 2
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            kernel = weight if groups > 1 else weight.transpose(0, 1)
            grad_x = F.conv2d(grad, kernel.flip(2, 3), padding=pad, groups=groups)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], groups, [False, True, False]
            )[1]
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias, None


def _shape_qualifies(conv: nn.Conv2d) -> bool:
    """Stride 1, dilation 1, zero padding ``k // 2`` (odd square kernel), groups 1 or depthwise."""
    kh, kw = conv.kernel_size
    same = conv.padding == "same" or tuple(conv.padding) == (kh // 2, kw // 2)
    depthwise = conv.groups == conv.in_channels == conv.out_channels
    return (
        kh == kw
        and kh % 2 == 1
        and same
        and conv.padding_mode == "zeros"
        and tuple(conv.stride) == (1, 1)
        and tuple(conv.dilation) == (1, 1)
        and (conv.groups == 1 or depthwise)
    )


def _split_backward_applies(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    """Whether a qualifying convolution of these tensors takes the three-call backward now."""
    return (
        x.device.type == "cpu"
        and x.dim() == 4
        and x.dtype == weight.dtype
        and torch.is_grad_enabled()
        and (x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad))
        and not torch.is_autocast_enabled("cpu")
        and not capturing_graph()
    )


def capturing_graph() -> bool:
    """Whether a tracer, the ONNX exporter or the compiler is recording the code (then the custom
    autograd paths of this package step aside for PyTorch's own)."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same state dict) with the three-call CPU backward.

    ``split_backward=False`` always runs ``nn.Conv2d``'s own path; so does any layer whose shape does
    not qualify (module docstring), decided once at construction.
    """

    def __init__(self, *args, split_backward: bool = True, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.split_backward = split_backward and _shape_qualifies(self)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", split_backward=True" if self.split_backward else "")

    def _conv_forward(
        self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if self.split_backward and _split_backward_applies(input, weight, bias):
            return _SplitBackwardConv.apply(input, weight, bias, self.groups)
        return super()._conv_forward(input, weight, bias)
