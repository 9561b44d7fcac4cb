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


def test_without_autograd_it_is_nn_flatten() -> None:
    x = _input(torch.channels_last).detach()
    assert torch.equal(Flatten()(x), x.flatten(1))
    contiguous = x.contiguous()
    assert Flatten()(contiguous).data_ptr() == contiguous.data_ptr()  # a view, as nn.Flatten's


def _gradient_handed_back(flatten: nn.Module) -> torch.Tensor:
    """The gradient ``flatten`` returns for a channels-last input (before any accumulation into ``.grad``)."""
    x = _input(torch.channels_last) * 1.0  # a non-leaf, so the hook sees the gradient as returned
    seen: list[torch.Tensor] = []
    x.register_hook(seen.append)
    flatten(x).backward(torch.ones(4, 72))
    return seen[0]


def test_nn_flatten_hands_back_a_contiguous_gradient_and_ours_a_channels_last_one() -> None:
    assert _gradient_handed_back(nn.Flatten()).is_contiguous()
    assert _gradient_handed_back(Flatten()).is_contiguous(memory_format=torch.channels_last)


MODES = ["torch.jit.is_tracing", "torch.onnx.is_in_onnx_export", "torch.compiler.is_compiling"]


@pytest.mark.parametrize("mode", MODES)
def test_tracing_export_and_compiling_take_nn_flatten_s_path(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mode, lambda: True)
    grad = _gradient_handed_back(Flatten())
    assert grad.is_contiguous() and not grad.is_contiguous(memory_format=torch.channels_last)


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
