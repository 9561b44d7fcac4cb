"""``SepConvNet.forward`` pools before the activation of a pooled layer; the result is the literal order's.

Max pooling and a monotone non-decreasing activation commute, so ``forward`` applies sepconv1's,
sepconv3's and sepconv5's activations after their pools, on a quarter of the elements.
``forward_layers`` (the per-layer parity report) keeps the spec's order. These tests compare the two
orders on real images: the logits bit for bit; the gradients bit for bit in float64 (and with ReLU),
and in float32 at least as close to the float64 gradients as the literal order's. Near zero, float32
SELU and ELU round inputs a few 1e-8 apart to the same value; when two of them share a pooling
window, the literal order sends the gradient to the first (PyTorch's tie rule), the pooled order to
the larger input, as the exact (float64) gradient does.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from sepconv.data import FashionMNISTSplits
from sepconv.spec import REFERENCE
from sepconv_torch import SepConvLitModule, build_model
from sepconv_torch import selu as selu_module
from sepconv_torch.selu import selu_

POOLED = ("sepconv1", "sepconv3", "sepconv5")  # the layers a max pool follows in the reference


def _position(order: tuple[tuple[str, bool], ...], name: str, is_activation: bool) -> int:
    return order.index((name, is_activation))


def test_order_moves_only_activations_before_a_pool() -> None:
    order = build_model().order
    for name, pool in zip(POOLED, ("pool1", "pool2", "pool3"), strict=True):
        assert _position(order, pool, False) < _position(order, name, True) < _position(order, pool, True)
    others = [layer.name for layer in REFERENCE if layer.name not in POOLED and layer.kind != "maxpool"]
    assert all(_position(order, n, False) + 1 == _position(order, n, True) for n in others)
    literal = build_model(pool_before_activation=False).order
    assert literal == tuple((layer.name, act) for layer in REFERENCE for act in (False, True))


def test_lit_module_passes_the_order_on() -> None:
    assert SepConvLitModule().net.order == build_model().order
    literal = SepConvLitModule(pool_before_activation=False).net
    assert not literal.pool_before_activation
    assert literal.order == build_model(pool_before_activation=False).order


def _spec_with_activation(activation: str) -> tuple:
    return tuple(
        dataclasses.replace(layer, activation=activation) if layer.activation == "selu" else layer
        for layer in REFERENCE
    )


def _logits_and_grads(
    spec: tuple, precise: bool, pooled: bool, dtype: torch.dtype, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    net = build_model(spec, seed=0, precise_selu=precise, pool_before_activation=pooled)
    net = net.to(dtype).to(memory_format=torch.channels_last)
    x = x.to(dtype).contiguous(memory_format=torch.channels_last)
    logits = net(x)
    F.cross_entropy(logits, y).backward()
    assert torch.equal(logits, net.forward_layers(x)["dense2"])  # the report's literal order
    return logits.detach(), [p.grad.double() for p in net.parameters()]


def _worst_relative(grads: list[torch.Tensor], exact: list[torch.Tensor]) -> float:
    return max(float((g - e).abs().max() / e.abs().max()) for g, e in zip(grads, exact, strict=True))


@pytest.mark.parametrize(
    "activation, precise, dtype, exp2",
    [
        ("selu", False, torch.float32, False),
        pytest.param("selu", False, torch.float32, True, marks=pytest.mark.slow),  # exp2: default SELU only
        pytest.param("selu", True, torch.float32, False, marks=pytest.mark.slow),
        pytest.param("selu", False, torch.float64, False, marks=pytest.mark.slow),
        pytest.param("elu", False, torch.float32, False, marks=pytest.mark.slow),
        ("relu", False, torch.float32, False),
        pytest.param("relu", False, torch.float64, False, marks=pytest.mark.slow),
    ],
)
def test_same_network_as_the_literal_order(
    splits: FashionMNISTSplits,
    activation: str,
    precise: bool,
    dtype: torch.dtype,
    exp2: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selu_module, "_cpu_prefers_exp2", lambda: exp2)
    spec = _spec_with_activation(activation)
    x = torch.from_numpy(splits.images("train", "NCHW")[:128])
    y = torch.from_numpy(splits.labels("train")[:128])
    logits, grads = _logits_and_grads(spec, precise, True, dtype, x, y)
    literal_logits, literal_grads = _logits_and_grads(spec, precise, False, dtype, x, y)
    assert torch.equal(logits, literal_logits)
    if dtype == torch.float64 or activation == "relu":  # no ties that the order could break differently
        assert all(torch.equal(a, b) for a, b in zip(grads, literal_grads, strict=True))
    else:
        _, exact = _logits_and_grads(spec, precise, False, torch.float64, x, y)
        assert _worst_relative(grads, exact) <= _worst_relative(literal_grads, exact)


@pytest.mark.parametrize("exp2", [False, True])
@pytest.mark.parametrize("precise", [False, True])
def test_float32_selu_is_monotone(precise: bool, exp2: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the reordering rests on: the float32 SELU never decreases, even between adjacent floats."""
    monkeypatch.setattr(selu_module, "_cpu_prefers_exp2", lambda: exp2)
    grid = torch.linspace(-100, 20, 4_000_001)
    # runs of adjacent floats around points where exp's approximation could wobble
    starts = torch.cat([torch.linspace(-20, 0, 200), torch.tensor([-1e-6, -1e-30, 0.0, 1e-30])])
    runs = [starts]
    for _ in range(200):
        runs.append(torch.nextafter(runs[-1], torch.full_like(starts, float("inf"))))
    x = torch.cat([grid, torch.stack(runs, 1).flatten()]).sort().values
    y = selu_(x.clone(), precise=precise)
    assert (y[1:] >= y[:-1]).all()
