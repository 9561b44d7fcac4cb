"""The fast layers (:mod:`sepconv_torch.ops`) compute what ``nn.SELU`` and a 1x1 ``nn.Conv2d`` compute."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sepconv_torch import build_model
from sepconv_torch.blocks import SeparableConv2d
from sepconv_torch.ops import SELU, PointwiseConv2d, selu


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-15), (torch.float32, 4e-7)])
def test_selu_matches_torch(dtype: torch.dtype, tol: float) -> None:
    x = (
        torch.randn(4, 8, 9, 9, dtype=dtype, generator=torch.Generator().manual_seed(0)) * 3
    ).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = selu(x), F.selu(x_ref)
    g = torch.randn_like(y)
    y.backward(g)
    y_ref.backward(g)
    assert (y - y_ref).abs().max().item() <= tol * 2
    assert (x.grad - x_ref.grad).abs().max().item() <= tol * 8


def test_selu_edges() -> None:
    x = torch.tensor([-1e4, -20.0, -1e-30, 0.0, 1e-30, 100.0, 1e4, float("nan")], requires_grad=True)
    y = selu(x)
    ref = F.selu(x.detach())
    assert torch.allclose(y[:-1], ref[:-1], atol=1e-6) and torch.isnan(y[-1])  # no inf/NaN from exp overflow
    y[:-1].sum().backward()
    assert torch.isfinite(x.grad[:-1]).all()
    assert torch.autograd.gradcheck(selu, (torch.randn(20, dtype=torch.float64, requires_grad=True),))


def test_selu_module_is_the_default_activation() -> None:
    net = build_model()
    assert isinstance(net.activations["conv1"], SELU) and isinstance(net.sepconv1.conv_pw, PointwiseConv2d)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("size", [28, 7])
def test_pointwise_matches_conv(channels_last: bool, size: int) -> None:
    torch.manual_seed(0)
    fast = PointwiseConv2d(16, 24).double()
    ref = nn.Conv2d(16, 24, 1).double()
    ref.load_state_dict(fast.state_dict())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(3, 16, size, size, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = fast(x), ref(x_ref)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-13)
    g = torch.randn_like(y_ref)
    y.backward(g)
    y_ref.backward(g)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=0, atol=1e-13)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=0, atol=1e-11)
    torch.testing.assert_close(fast.bias.grad, ref.bias.grad, rtol=0, atol=1e-11)


def test_state_dict_keys_unchanged() -> None:
    block = SeparableConv2d(32, 64)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == {
        "conv_dw.weight": (32, 1, 3, 3),
        "conv_pw.weight": (64, 32, 1, 1),
        "conv_pw.bias": (64,),
    }
