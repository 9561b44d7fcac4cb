"""sepconv_torch.flatten.Flatten: nn.Flatten's values and gradients, the gradient in the input's format."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sepconv_torch import build_model
from sepconv_torch.flatten import Flatten


def _input(fmt: torch.memory_format, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    x = torch.randn(4, 8, 3, 3, dtype=dtype, generator=torch.Generator().manual_seed(0))
    return x.contiguous(memory_format=fmt).requires_grad_()


@pytest.mark.parametrize("fmt", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradient_are_nn_flatten_s(fmt: torch.memory_format, dtype: torch.dtype) -> None:
    grad = torch.randn(4, 72, dtype=dtype)
    results = []
    for module in (nn.Flatten(), Flatten()):
        x = _input(fmt, dtype)
        out = module(x)
        out.backward(grad)
        results.append((out, x.grad))
    (want, want_grad), (got, got_grad) = results
    assert torch.equal(got, want) and torch.equal(got_grad, want_grad)
    assert got_grad.is_contiguous(memory_format=fmt)  # nn.Flatten's is contiguous whatever the input


def test_without_autograd_it_is_nn_flatten() -> None:
    x = _input(torch.channels_last).detach()
    assert torch.equal(Flatten()(x), x.flatten(1))
    contiguous = x.contiguous()
    assert Flatten()(contiguous).data_ptr() == contiguous.data_ptr()  # a view, as nn.Flatten's


def test_is_what_the_network_builds() -> None:
    assert type(build_model().flatten) is Flatten


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_network_gradients_unchanged_bit_for_bit(dtype: torch.dtype) -> None:
    """The whole network, channels-last, against the same weights with nn.Flatten."""
    x = torch.randn(16, 1, 28, 28, dtype=dtype).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (16,))
    grads = []
    for flatten in (nn.Flatten(), Flatten()):
        net = build_model(seed=0).to(dtype=dtype, memory_format=torch.channels_last)
        net.flatten = flatten
        F.cross_entropy(net(x), y).backward()
        grads.append([p.grad for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))
