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
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
    by the convolution itself when it is symmetric.
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
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, groups=groups, bias=bias)
        self.keras_padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.keras_padding == "valid":
            return super().forward(x)
        kh, kw = self.kernel_size
        sh, sw = self.stride
        top, bottom = same_pads(x.shape[-2], kh, sh)
        left, right = same_pads(x.shape[-1], kw, sw)
        if top == bottom and left == right:
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), 1, self.groups)
        return F.conv2d(
            F.pad(x, (left, right, top, bottom)), self.weight, self.bias, self.stride, 0, 1, self.groups
        )

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
        self.conv_pw = nn.Conv2d(mid, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(x))


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if self.training:
            dims = [0, *range(2, x.dim())]
            mean = x.mean(dims)
            var = (x - mean.reshape(shape)).square().mean(dims)  # biased, two passes as tf.nn.moments
            with torch.no_grad():
                m = self.momentum
                self.running_mean.copy_(self.running_mean * m + mean.detach() * (1.0 - m))
                self.running_var.copy_(self.running_var * m + var.detach() * (1.0 - m))
                self.num_batches_tracked.add_(1)
        else:
            mean, var = self.running_mean, self.running_var
        inv = torch.rsqrt(var + self.epsilon)
        if self.weight is not None:
            inv = inv * self.weight
        shift = -mean * inv if self.bias is None else self.bias - mean * inv
        return x * inv.reshape(shape) + shift.reshape(shape)

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
