"""The depthwise-separable convolution block, parameter for parameter Keras' ``SeparableConv2D``."""

from __future__ import annotations

import torch
from torch import nn

from sepconv_torch.conv import Conv2d

__all__ = ["SeparableConv2d"]


class SeparableConv2d(nn.Module):
    """Depthwise ``kxk`` conv (one filter per channel, no bias) then a 1x1 pointwise conv with bias.

    Input and output are ``(N, C, H, W)``. Parameters, with their Keras names:
    ``conv_dw.weight`` ``(in, 1, k, k)`` = ``depthwise_kernel`` ``(k, k, in, 1)``;
    ``conv_pw.weight`` ``(out, in, 1, 1)`` = ``pointwise_kernel`` ``(1, 1, in, out)``;
    ``conv_pw.bias`` ``(out,)`` = ``bias``.

    Both are :class:`sepconv_torch.conv.Conv2d` (``nn.Conv2d`` subclasses); ``split_backward`` picks
    their three-call CPU backward.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: str = "same",
        split_backward: bool = True,
    ) -> None:
        super().__init__()
        # padding="same" with stride 1 and an odd kernel pads k//2 on every side, as Keras does.
        self.conv_dw = Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            padding=padding,
            groups=in_channels,
            bias=False,
            split_backward=split_backward,
        )
        self.conv_pw = Conv2d(in_channels, out_channels, 1, split_backward=split_backward)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(x))
