"""BatchNormalization folded into the convolution before it, for inference and export.

In eval mode a ``BatchNormalization`` is the affine map ``y = x * s + t`` per channel with
``s = gamma / sqrt(moving_variance + epsilon)`` and ``t = beta - moving_mean * s`` (``gamma`` 1 without
``scale``, ``beta`` 0 without ``center``; ``epsilon`` the layer's own). Where it directly follows a
``Conv2D``, ``DepthwiseConv2D`` or ``SeparableConv2D`` whose activation is ``linear``, that map moves
into the convolution: per output channel ``o``

    W'[o] = W[o] * s[o],    b'[o] = (b[o] - moving_mean[o]) * s[o] + beta[o]    (b = 0 without a bias)

A depthwise convolution's output channel ``o = c*m + k`` (input channel ``c``, kernel ``k`` of
``depth_multiplier`` ``m``, Keras' order) is the BatchNorm's channel ``o``; a separable convolution's
map goes into its pointwise part (``conv_pw``), its depthwise part is unchanged. The scale and shift are
computed in float64 and rounded once to the weights' dtype.

A BatchNorm after anything else (a Dense layer, an activation, a pool, a convolution with a non-linear
activation) stays as it is.

The folded network's state dict: every key of the original except the folded BatchNorms' (``weight``,
``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``: each folded BatchNorm is an
``nn.Identity`` under its own name, so the module names and the order of layers stay); the convolutions'
keys keep their names and hold the folded values, and a convolution built without a bias
(``use_bias: false``) gains ``<name>.bias`` (``<name>.conv_pw.bias`` for a separable one). It is an
inference network: not for training, nor for the weight converter, whose description still lists the
BatchNorms (:attr:`ArchNet.description` is kept; ``folded_batchnorm`` names the folded ones).
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from sepconv_torch.arch.modules import KerasBatchNorm, KerasSeparableConv2d
from sepconv_torch.arch.net import ArchNet

__all__ = ["fold_batchnorm", "foldable_pairs"]


def _target(conv: nn.Module) -> nn.Conv2d | None:
    """The ``nn.Conv2d`` whose output the next layer sees: a separable layer's pointwise part."""
    if isinstance(conv, KerasSeparableConv2d):
        return conv.conv_pw
    return conv if isinstance(conv, nn.Conv2d) else None


def foldable_pairs(net: ArchNet) -> list[tuple[str, str]]:
    """``(convolution, BatchNorm)`` module names of ``net`` that fold: the BatchNorm directly after a
    convolution whose activation is linear."""
    idents = [ident for ident, _ in net.names]
    return [
        (conv, bn)
        for conv, bn in itertools.pairwise(idents)
        if isinstance(getattr(net, bn), KerasBatchNorm)
        and _target(getattr(net, conv)) is not None
        and conv not in net.activations
    ]


@torch.no_grad()
def _fold_into(conv: nn.Conv2d, bn: KerasBatchNorm) -> None:
    """Move eval-mode ``bn`` into ``conv``'s weight ``(out, in/groups, kh, kw)`` and bias ``(out,)``."""
    f64 = torch.float64
    s = torch.rsqrt(bn.running_var.to(f64) + bn.epsilon)
    if bn.weight is not None:
        s = s * bn.weight.to(f64)
    bias = conv.bias.to(f64) if conv.bias is not None else torch.zeros_like(s)
    shift = (bias - bn.running_mean.to(f64)) * s
    if bn.bias is not None:
        shift = shift + bn.bias.to(f64)
    folded = conv.weight.to(f64) * s.reshape(-1, 1, 1, 1).to(conv.weight.device)
    conv.weight.copy_(folded)  # copy_ keeps the weight's dtype and memory format (channels-last)
    shift = shift.to(device=conv.weight.device, dtype=conv.weight.dtype)
    if conv.bias is None:
        conv.bias = nn.Parameter(shift, requires_grad=conv.weight.requires_grad)
    else:
        conv.bias.copy_(shift)


def fold_batchnorm(net: ArchNet) -> ArchNet:
    """An eval-mode copy of ``net`` with every foldable BatchNorm (:func:`foldable_pairs`) folded into
    the convolution before it and replaced by ``nn.Identity``; ``net`` is not changed.

    The copy computes ``net``'s eval-mode function: equal in float64 up to rounding (1e-12), in
    float32 within float32 rounding of the folded weights. ``net`` must be in eval mode: a training-mode
    BatchNorm normalises by the batch's statistics, which no fixed weight can hold, so a training-mode
    ``net`` is refused (``ValueError``) rather than silently given another function. The copy's
    ``folded_batchnorm`` lists the folded BatchNorms' module names.
    """
    if not isinstance(net, ArchNet):
        raise TypeError(f"fold_batchnorm needs an ArchNet (a described network), not {type(net).__name__}")
    if net.training:
        raise ValueError(
            "fold_batchnorm folds the moving statistics (inference only); the network is in training "
            "mode, where BatchNorm uses each batch's statistics: call net.eval() first"
        )
    folded = copy.deepcopy(net).eval()
    pairs = foldable_pairs(folded)
    for conv, bn in pairs:
        _fold_into(_target(getattr(folded, conv)), getattr(folded, bn))  # type: ignore[arg-type]
        setattr(folded, bn, nn.Identity())
    folded.folded_batchnorm = tuple(bn for _, bn in pairs)
    return folded
