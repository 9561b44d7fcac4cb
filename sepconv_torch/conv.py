"""Convolutions whose CPU backward runs as separate ATen calls instead of one oneDNN call.

PyTorch's CPU convolution backward (``aten::convolution_backward``, oneDNN) computes the input,
weight and bias gradients in one call. For this project's layers separate calls are faster
(README "Performance"; ``python benchmarks/dropped_levers.py conv-backward``; docs/performance.md,
"Described networks"):

* input gradient: with stride 1 and "same" padding ``k // 2`` (odd square kernel), a *forward*
  convolution of the output gradient ``(N, out, H, W)`` with the kernel flipped in H and W and, for
  groups 1, its in/out channels swapped (``(in, out, k, k)``; a depthwise kernel ``(C, 1, k, k)`` is
  only flipped): exactly the transposed convolution. Any other stride or padding:
  ``convolution_backward`` asked for the input gradient alone;
* weight gradient: ``convolution_backward`` asked for the weight alone; for a depthwise kernel whose
  output is one pixel (``H_out = W_out = 1``, e.g. MobileNet's last 3x3 on a 1x1 map, where oneDNN's
  depthwise weight backward is some 100 times slower) the sum over the batch of output gradient
  times the padded input window ``(N, C, kh, kw)``, which is that gradient by definition;
* bias gradient: the output gradient summed over N, H and W.

The mathematics is the backward's; float32 results differ from the one-call path's only by summation
order (``tests/test_conv_backward.py`` bounds it; float64 agrees to 1e-12). The forward is the same
``F.conv2d`` call, bit for bit.

Taken only where it was measured: on the CPU, with autograd recording, outside autocast (bf16-mixed
keeps PyTorch's path) and export or compilation, with input and weight of one dtype, for a 4-D input,
dilation 1, zero padding given as numbers (the same on both sides of an axis; ``"same"`` for an odd
square kernel at stride 1), and groups 1 or depthwise (groups = in = out channels). Anything else runs
PyTorch's own path. :class:`Conv2d` (the reference network's layers) is the ``nn.Conv2d`` with it;
:func:`conv2d` is the functional form that ``sepconv_torch.arch``'s Keras-padded convolutions call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv2d", "capturing_graph", "conv2d"]


class _SplitBackwardConv(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, stride, padding, 1, groups)`` with the backward above."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int],
        padding: tuple[int, int],
        groups: int,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.groups, ctx.has_bias = stride, padding, groups, bias is not None
        return F.conv2d(x, weight, bias, stride, padding, 1, groups)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        stride, padding, groups = list(ctx.stride), list(ctx.padding), ctx.groups
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _input_grad(grad, x, weight, stride, padding, groups)
        if ctx.needs_input_grad[1]:
            if groups > 1 and grad.shape[-2:] == (1, 1):
                grad_weight = _depthwise_one_pixel_weight_grad(grad, x, weight, padding)
            else:
                grad_weight = _onednn_backward(grad, x, weight, stride, padding, groups, 1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias, None, None, None


def _input_grad(
    grad: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: list[int],
    padding: list[int],
    groups: int,
) -> torch.Tensor:
    """The input gradient: a forward convolution with the flipped kernel where that is the transpose,
    else ``convolution_backward`` asked for it alone."""
    if _transposes_by_flip(weight, stride, padding):
        kernel = weight if groups > 1 else weight.transpose(0, 1)
        return F.conv2d(grad, kernel.flip(2, 3), padding=padding, groups=groups)
    return _onednn_backward(grad, x, weight, stride, padding, groups, 0)


def _onednn_backward(
    grad: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    stride: list[int],
    padding: list[int],
    groups: int,
    which: int,
) -> torch.Tensor:
    """``convolution_backward`` asked for one gradient alone: the input's (``which=0``) or weight's (1)."""
    mask = [which == 0, which == 1, False]
    return torch.ops.aten.convolution_backward(
        grad, x, weight, None, stride, padding, [1, 1], False, [0, 0], groups, mask
    )[which]


def _transposes_by_flip(weight: torch.Tensor, stride: list[int], padding: list[int]) -> bool:
    """Stride 1 and padding ``k // 2`` of an odd square kernel: the input gradient is a flipped forward."""
    kh, kw = weight.shape[-2:]
    return kh == kw and kh % 2 == 1 and stride == [1, 1] and padding == [kh // 2, kw // 2]


def _depthwise_one_pixel_weight_grad(
    grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, padding: list[int]
) -> torch.Tensor:
    """Weight gradient ``(C, 1, kh, kw)`` of a depthwise convolution with output ``(N, C, 1, 1)``: the
    batch sum of ``grad`` times the one window ``(N, C, kh, kw)`` of the zero-padded input."""
    kh, kw = weight.shape[-2:]
    ph, pw = padding
    window = F.pad(x, (pw, pw, ph, ph))[:, :, :kh, :kw]
    return (grad * window).sum(0).unsqueeze(1)


def _numeric_padding(
    padding: str | tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[int, int] | None:
    """``(ph, pw)`` of a module's padding: numbers, or ``"same"`` (odd kernel, stride 1); else ``None``."""
    if padding == "same":
        kh, kw = kernel
        return (kh // 2, kw // 2) if kh % 2 == kw % 2 == 1 and tuple(stride) == (1, 1) else None
    if padding == "valid":
        return (0, 0)
    return tuple(padding)  # type: ignore[return-value]


def _shape_qualifies(conv: nn.Conv2d) -> bool:
    """Dilation 1, zero padding given as numbers or ``"same"`` (odd kernel), groups 1 or depthwise."""
    depthwise = conv.groups == conv.in_channels == conv.out_channels
    return (
        _numeric_padding(conv.padding, conv.kernel_size, conv.stride) is not None
        and conv.padding_mode == "zeros"
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
            padding = _numeric_padding(self.padding, self.kernel_size, self.stride)
            return _SplitBackwardConv.apply(input, weight, bias, tuple(self.stride), padding, self.groups)
        return super()._conv_forward(input, weight, bias)


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    groups: int,
    split_backward: bool = True,
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding, 1, groups)`` (``x`` ``(N, C, H, W)``, ``weight``
    ``(out, C / groups, kh, kw)``), with the separate-call backward where it applies (module docstring)
    and ``split_backward`` asks for it."""
    depthwise = groups == x.shape[1] == weight.shape[0] if x.dim() == 4 else False
    if split_backward and (groups == 1 or depthwise) and _split_backward_applies(x, weight, bias):
        return _SplitBackwardConv.apply(x, weight, bias, tuple(stride), tuple(padding), groups)
    return F.conv2d(x, weight, bias, stride, padding, 1, groups)
