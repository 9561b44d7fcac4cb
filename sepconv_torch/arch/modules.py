"""PyTorch modules with Keras' (TensorFlow's) arithmetic, for the layers where the two frameworks differ.

All take and give NCHW (``(N, C, H, W)``) or ``(N, F)`` tensors; Keras' layouts are channels-last.

* ``same`` padding (:func:`same_pads`): TensorFlow pads ``max((ceil(n/s) - 1)*s + k - n, 0)`` in all,
  the odd one at the bottom/right, so a stride-2 convolution of an even input pads only there;
  PyTorch's ``padding="same"`` is stride 1 only, and symmetric.
* :class:`KerasBatchNorm`: Keras' epsilon and momentum; moving averages
  ``m * momentum + batch * (1 - momentum)`` with the *biased* batch variance (``nn.BatchNorm2d`` takes
  the unbiased one and the complementary momentum).
* :class:`KerasReLU`, :class:`KerasLeakyReLU`, :class:`KerasGELU`: Keras' formulas, in its order of
  operations, with the constants TensorFlow rounds to float32 before it casts them to the input's
  dtype (:func:`tf_float32`): the ReLU cap and threshold, the leaky slope (an op attribute), GELU's
  ``1/sqrt(2)`` and ``0.044715``. In float64 that is a difference of up to 1e-8, not 1e-16.
* :class:`KerasPool2d`: ``same`` max pooling pads with ``-inf``; ``same`` average pooling divides by
  the number of input elements each window covers (TensorFlow), not by the window's size.
* :class:`KerasFlatten` / :class:`KerasReshape`: in Keras' ``(h, w, c)`` element order.
* A depthwise convolution with ``depth_multiplier`` ``m`` is ``nn.Conv2d(C, C*m, groups=C)``: output
  channel ``c*m + k`` is input channel ``c`` through kernel ``k``, as in Keras.

Speed (docs/performance.md, "Described networks"): a training-mode BatchNorm is ATen's ``batch_norm``,
one call forward and one backward (the same function and gradient up to rounding; TensorFlow's formula
with a closed-form backward, :class:`_BatchNormTrain`, or through autograd on request), instead of
two dozen small kernels; ``ReLU(max_value=6)`` is one ``F.relu6`` call, which is also TensorFlow's
``relu6`` gradient (zero at 0 and at 6). The convolutions can take :mod:`sepconv_torch.conv`'s
separate-call backward (``KerasConv2d(split_backward=True)``), off by default: it did not pay on these
networks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sepconv_torch.conv import capturing_graph, conv2d

__all__ = [
    "KerasBatchNorm",
    "KerasConv2d",
    "KerasFlatten",
    "KerasGELU",
    "KerasGlobalPool2d",
    "KerasLeakyReLU",
    "KerasPool2d",
    "KerasReLU",
    "KerasReshape",
    "KerasSeparableConv2d",
    "KerasZeroPad2d",
    "same_pads",
    "tf_float32",
]


def tf_float32(value: float) -> float:
    """``value`` rounded to float32, as TensorFlow rounds a Python constant it casts to a tensor's dtype."""
    return float(np.float32(value))


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``same`` padding of one axis: ``(before, after)``, the odd one after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], value: float = 0.0
) -> torch.Tensor:
    top, bottom = same_pads(x.shape[-2], kernel[0], stride[0])
    left, right = same_pads(x.shape[-1], kernel[1], stride[1])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


class KerasConv2d(nn.Conv2d):
    """``nn.Conv2d`` with Keras' ``padding`` (``"same"`` as TensorFlow pads it, or ``"valid"``).

    Weight ``(out, in / groups, kh, kw)``; the padding is computed from each input's size, and applied
    by the convolution itself when it is symmetric. ``split_backward``: the separate-call CPU backward
    of :func:`sepconv_torch.conv.conv2d` where it applies; off by default, as it did not pay on the
    shipped descriptions (docs/performance.md, "Described networks").
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        padding: str = "valid",
        groups: int = 1,
        bias: bool = True,
        split_backward: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, groups=groups, bias=bias)
        self.keras_padding = padding
        self.split_backward = split_backward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = tuple(self.padding)  # "valid": nn.Conv2d's own, (0, 0) as built
        if self.keras_padding == "same":
            kh, kw = self.kernel_size
            sh, sw = self.stride
            top, bottom = same_pads(x.shape[-2], kh, sh)
            left, right = same_pads(x.shape[-1], kw, sw)
            if top == bottom and left == right:
                padding = (top, left)
            else:
                x = F.pad(x, (left, right, top, bottom))
        return conv2d(x, self.weight, self.bias, self.stride, padding, self.groups, self.split_backward)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, keras_padding={self.keras_padding!r}"


class KerasSeparableConv2d(nn.Module):
    """``SeparableConv2D``: ``conv_dw`` (depthwise, ``groups=in``, no bias, strides and padding here) then
    ``conv_pw`` (1x1, the bias). Keys ``conv_dw.weight`` ``(in*m, 1, kh, kw)``, ``conv_pw.weight``
    ``(out, in*m, 1, 1)``, ``conv_pw.bias``, as the reference network's."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int],
        stride: tuple[int, int],
        padding: str,
        depth_multiplier: int,
        bias: bool,
    ) -> None:
        super().__init__()
        mid = in_channels * depth_multiplier
        self.conv_dw = KerasConv2d(
            in_channels, mid, kernel_size, stride, padding, groups=in_channels, bias=False
        )
        self.conv_pw = KerasConv2d(mid, out_channels, (1, 1), bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(x))


def _normalise(
    x: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    epsilon: float,
) -> torch.Tensor:
    """``x * inv + (beta - mean * inv)`` with ``inv = gamma / sqrt(var + epsilon)`` per channel (dim 1),
    as ``tf.nn.batch_normalization`` computes it."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    inv = torch.rsqrt(var + epsilon)
    if weight is not None:
        inv = inv * weight
    shift = -mean * inv if bias is None else bias - mean * inv
    return x * inv.reshape(shape) + shift.reshape(shape)


def _batch_norm_train(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(output, batch mean, biased batch variance)``: the mean, then the variance in a second pass
    over ``x - mean`` (``tf.nn.moments``), then :func:`_normalise`."""
    dims = [0, *range(2, x.dim())]
    mean = x.mean(dims)
    var = (x - mean.reshape((1, -1) + (1,) * (x.dim() - 2))).square().mean(dims)
    return _normalise(x, mean, var, weight, bias, epsilon), mean, var


def _batch_norm_native(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(output, batch mean, biased batch variance)`` by ATen: ``F.batch_norm`` normalises with the
    batch's biased variance (autograd takes its one-call backward, the batch statistics' derivative
    included). The same function as :func:`_batch_norm_train`, rounded as
    ``(x - mean) * invstd * gamma + beta``.

    The statistics come out of the same call: with momentum 1 its "running" buffers (fresh zeros,
    not the module's) receive the batch mean and the unbiased variance ``sum / (n - 1)``, rescaled
    here by ``(n - 1) / n``. A separate ``torch.var_mean`` costs 3-5x the whole ``batch_norm`` on
    channels-last maps (docs/performance.md).
    """
    c = x.shape[1]
    mean = torch.zeros(c, dtype=x.dtype, device=x.device)
    unbiased = torch.zeros(c, dtype=x.dtype, device=x.device)
    y = F.batch_norm(x, mean, unbiased, weight, bias, training=True, momentum=1.0, eps=epsilon)
    n = x.numel() // c
    return y, mean, unbiased * ((n - 1) / n)  # not in place: the backward keeps both buffers


class _BatchNormTrain(torch.autograd.Function):
    """:func:`_batch_norm_train` (the same forward, bit for bit) with its backward in closed form.

    With ``r = 1 / sqrt(var + eps)``, ``xhat = (x - mean) r`` and means over the N*H*W values of a
    channel, the derivative of the batch statistics included: ``d beta = sum g``, ``d gamma = sum g xhat``,
    ``dx = gamma r (g - mean(g) - xhat mean(g xhat))``. Autograd reaches the same gradient through a
    dozen small kernels (mean, square, rsqrt, the products); this is four passes over the activations.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor | None,
        bias: torch.Tensor | None,
        epsilon: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y, mean, var = _batch_norm_train(x, weight, bias, epsilon)
        ctx.save_for_backward(x, weight, mean, var)
        ctx.epsilon, ctx.has_bias = epsilon, bias is not None
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor, *_: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight, mean, var = ctx.saved_tensors
        shape = (1, -1) + (1,) * (x.dim() - 2)
        dims = [0, *range(2, x.dim())]
        r = torch.rsqrt(var + ctx.epsilon)
        xhat = (x - mean.reshape(shape)) * r.reshape(shape)
        grad_beta = grad.sum(dims)
        grad_gamma = (grad * xhat).sum(dims)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            count = x.numel() // x.shape[1]
            scale = r if weight is None else r * weight
            grad_x = (
                grad - (grad_beta / count).reshape(shape) - xhat * (grad_gamma / count).reshape(shape)
            ) * (scale.reshape(shape))
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = grad_gamma
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_beta
        return grad_x, grad_weight, grad_bias, None


class KerasBatchNorm(nn.Module):
    """Keras' ``BatchNormalization`` over dim 1 of ``(N, C, H, W)`` or ``(N, C)``.

    Parameters ``weight`` (gamma, if ``scale``) and ``bias`` (beta, if ``center``); buffers
    ``running_mean``, ``running_var`` (Keras' moving mean and variance) and ``num_batches_tracked``
    (the batches seen in training mode; Keras keeps no such count). Training mode normalises with the
    batch mean and biased variance and moves each average as ``m * momentum + batch * (1 - momentum)``.
    Both modes compute ``x * inv + (beta - mean * inv)``, ``inv = gamma / sqrt(var + epsilon)``, as
    ``tf.nn.batch_normalization`` does.
    """

    def __init__(
        self,
        num_features: int,
        epsilon: float = 1e-3,
        momentum: float = 0.99,
        center: bool = True,
        scale: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.epsilon, self.momentum = num_features, epsilon, momentum
        self.weight = nn.Parameter(torch.ones(num_features)) if scale else None
        self.bias = nn.Parameter(torch.zeros(num_features)) if center else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        #: training mode's kernels: ``native`` (ATen's ``batch_norm``, one call forward and one backward),
        #: ``closed-form`` (TensorFlow's forward, :class:`_BatchNormTrain`'s backward) or ``autograd``
        #: (TensorFlow's forward, differentiated by autograd)
        self.training_kernel: str = "native"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            kernel = "autograd" if capturing_graph() else self.training_kernel
            if kernel == "native":
                y, mean, var = _batch_norm_native(x, self.weight, self.bias, self.epsilon)
            elif kernel == "closed-form" and torch.is_grad_enabled():
                y, mean, var = _BatchNormTrain.apply(x, self.weight, self.bias, self.epsilon)
            else:
                y, mean, var = _batch_norm_train(x, self.weight, self.bias, self.epsilon)
            with torch.no_grad():  # m * momentum + batch * (1 - momentum), each product rounded
                m, stats = self.momentum, [self.running_mean, self.running_var]
                torch._foreach_mul_(stats, m)
                torch._foreach_add_(stats, torch._foreach_mul([mean.detach(), var.detach()], 1.0 - m))
                self.num_batches_tracked.add_(1)
            return y
        return _normalise(x, self.running_mean, self.running_var, self.weight, self.bias, self.epsilon)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, epsilon={self.epsilon}, momentum={self.momentum}, "
            f"center={self.bias is not None}, scale={self.weight is not None}"
        )


class KerasReLU(nn.Module):
    """``keras.layers.ReLU(max_value, negative_slope, threshold)``: ``x`` where ``x > threshold`` (else
    0), capped to ``[0, max_value]``, minus ``negative_slope * relu(threshold - x)``; with a slope and
    nothing else, TensorFlow's leaky ReLU (slope rounded to float32)."""

    def __init__(
        self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0
    ) -> None:
        super().__init__()
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        slope, cap, threshold = self.negative_slope, self.max_value, self.threshold
        if slope != 0 and cap is None and threshold == 0:
            return F.leaky_relu(x, tf_float32(slope))
        if slope == 0 and cap == 6 and threshold == 0:
            return F.relu6(x)  # tf.nn.relu6, which Keras calls here; gradient where 0 < x < 6
        negative = F.relu(threshold - x) if slope != 0 else None
        # x where x > threshold (compared with the float32-rounded threshold), else 0
        y = torch.where(x > tf_float32(threshold), x, torch.zeros_like(x)) if threshold != 0 else F.relu(x)
        if cap is not None:
            y = y.clamp(0.0, 6.0 if cap == 6 else tf_float32(cap))
        return y - slope * negative if negative is not None else y

    def extra_repr(self) -> str:
        return f"max_value={self.max_value}, negative_slope={self.negative_slope}, threshold={self.threshold}"


class KerasLeakyReLU(nn.Module):
    """TensorFlow's leaky ReLU: ``x`` if ``x > 0`` else ``x * slope``, the slope rounded to float32."""

    def __init__(self, negative_slope: float) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, tf_float32(self.negative_slope))

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class KerasGELU(nn.Module):
    """``tf.nn.gelu``: ``0.5 x erfc(-x / sqrt(2))``, or with ``approximate`` the tanh formula
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))`` (``1/sqrt(2)`` and ``0.044715`` in float32)."""

    def __init__(self, approximate: bool) -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.approximate:
            inner = 0.7978845608028654 * (x + tf_float32(0.044715) * x.pow(3))
            return 0.5 * x * (1.0 + torch.tanh(inner))
        return 0.5 * x * torch.erfc(-x * tf_float32(0.7071067811865476))

    def extra_repr(self) -> str:
        return f"approximate={self.approximate}"


class KerasPool2d(nn.Module):
    """``MaxPooling2D`` / ``AveragePooling2D`` (``mode`` ``"max"`` or ``"avg"``) with Keras' padding."""

    def __init__(self, mode: str, pool_size: tuple[int, int], strides: tuple[int, int], padding: str) -> None:
        super().__init__()
        self.mode, self.pool_size, self.strides, self.padding = mode, pool_size, strides, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.pool_size, self.strides
        if self.mode == "max":
            if self.padding == "same":
                x = _pad_same(x, k, s, float("-inf"))
            return F.max_pool2d(x, k, s)
        if self.padding == "valid":
            return F.avg_pool2d(x, k, s)
        sums = F.avg_pool2d(_pad_same(x, k, s), k, s, divisor_override=1)
        ones = torch.ones((1, 1, *x.shape[-2:]), dtype=x.dtype, device=x.device)
        return sums / F.avg_pool2d(_pad_same(ones, k, s), k, s, divisor_override=1)

    def extra_repr(self) -> str:
        return f"{self.mode}, pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"


class KerasGlobalPool2d(nn.Module):
    """Global average (``mode="avg"``) or max pooling over H and W: ``(N, C)``, or ``(N, C, 1, 1)`` with
    ``keepdims``."""

    def __init__(self, mode: str, keepdims: bool) -> None:
        super().__init__()
        self.mode, self.keepdims = mode, keepdims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "avg":
            return x.mean((2, 3), keepdim=self.keepdims)
        return x.amax((2, 3), keepdim=self.keepdims)


class KerasZeroPad2d(nn.Module):
    """``ZeroPadding2D(((top, bottom), (left, right)))``."""

    def __init__(self, padding: tuple[tuple[int, int], tuple[int, int]]) -> None:
        super().__init__()
        (self.top, self.bottom), (self.left, self.right) = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (self.left, self.right, self.top, self.bottom))


class KerasFlatten(nn.Module):
    """``(N, C, H, W)`` -> ``(N, H*W*C)`` in Keras' ``(h, w, c)`` order; ``(N, F)`` unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)


class KerasReshape(nn.Module):
    """Keras' ``Reshape(target_shape)``, elements taken in channels-last order: to ``(N, F)``, or to
    ``(N, C, H, W)`` for a ``(H, W, C)`` target."""

    def __init__(self, target_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.target_shape = tuple(target_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        y = x.reshape(x.shape[0], *self.target_shape)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y

    def extra_repr(self) -> str:
        return f"target_shape={self.target_shape}"
