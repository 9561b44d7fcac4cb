"""sepconv_torch.arch's speed levers keep the mathematics: BatchNorm's closed-form backward, ReLU6 as one
``F.relu6`` (TensorFlow's ``relu6`` gradient), a layer's own SELU in place, the optional separate-call
convolution backward, and channels-last activations through a described network."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sepconv.arch import load_yaml
from sepconv_torch.arch import build_torch
from sepconv_torch.arch.modules import KerasBatchNorm, KerasConv2d, KerasReLU, _BatchNormTrain
from sepconv_torch.selu import SELU

SHIPPED = ["reference", "standard", "mobilenet_v1_025_32"]


def _bn_pair(channels: int, center: bool, scale: bool, kernel: str) -> tuple[KerasBatchNorm, KerasBatchNorm]:
    """``(kernel's BatchNorm, the same with TensorFlow's formula through autograd)``, float64."""
    fast = KerasBatchNorm(channels, center=center, scale=scale).double()
    with torch.no_grad():
        for p in fast.parameters():
            p.uniform_(0.5, 1.5)
    fast.training_kernel = kernel
    plain = KerasBatchNorm(channels, center=center, scale=scale).double()
    plain.load_state_dict(fast.state_dict())
    plain.training_kernel = "autograd"
    return fast, plain


@pytest.mark.parametrize(
    ("kernel", "grad_fn"),
    [("native", "NativeBatchNormBackward0"), ("closed-form", "_BatchNormTrainBackward")],
)
@pytest.mark.parametrize(("center", "scale"), [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("shape", [(8, 5, 4, 3), (6, 7)], ids=["NCHW", "NF"])
def test_batchnorm_training_kernels_are_tensorflows_formula(
    shape: tuple[int, ...], center: bool, scale: bool, kernel: str, grad_fn: str
) -> None:
    """Against TensorFlow's formula through autograd, in float64: the closed-form backward has the same
    forward and moving averages bit for bit, ATen's to 1e-14; float64 gradients to 1e-12 of their
    largest value; the moving averages move by Keras' rule (biased variance, ``momentum`` kept)."""
    torch.manual_seed(0)
    fast, plain = _bn_pair(shape[1], center, scale, kernel)
    x = torch.randn(*shape, dtype=torch.float64) * 3 + 1
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    target = torch.randn(*shape, dtype=torch.float64)
    outs, grads = [], []
    for bn in (fast, plain):
        for _ in range(2):  # the moving averages move twice
            xi = x.clone().requires_grad_()
            y = bn(xi)
        (y * target).sum().backward()
        outs.append(y.detach())
        grads.append([xi.grad, *(p.grad for p in bn.parameters())])
    bits = kernel == "closed-form"
    for got, want in [
        (outs[0], outs[1]),
        (fast.running_mean, plain.running_mean),
        (fast.running_var, plain.running_var),
    ]:
        assert (
            torch.equal(got, want)
            if bits
            else torch.allclose(got, want, rtol=0, atol=1e-14 * want.abs().max())
        )
    dims = [0, *range(2, x.dim())]
    batch_mean, batch_var = x.mean(dims), x.var(dims, unbiased=False)  # Keras: biased
    torch.testing.assert_close(fast.running_mean, batch_mean * 0.01 * (1 + 0.99), rtol=1e-13, atol=0)
    torch.testing.assert_close(fast.running_var, 0.99**2 + batch_var * 0.01 * (1 + 0.99), rtol=1e-13, atol=0)
    assert type(fast(x.requires_grad_()).grad_fn).__name__ == grad_fn
    for got, want in zip(*grads, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12 * want.abs().max().item())


def test_batchnorm_gradcheck() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    gamma = torch.rand(4, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, g, b: _BatchNormTrain.apply(x, g, b, 1e-3)[0], (x, gamma, beta))


def test_batchnorm_eval_keeps_tensorflows_formula() -> None:
    bn = KerasBatchNorm(3).eval()
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    assert type(bn(x).grad_fn).__name__ not in ("NativeBatchNormBackward0", "_BatchNormTrainBackward")
    with torch.no_grad():
        assert bn.train()(x).grad_fn is None


def test_relu6_gradient_is_tensorflows() -> None:
    """``tf.nn.relu6`` (what Keras' ``ReLU(max_value=6)`` calls): gradient 1 only where ``0 < x < 6``."""
    x = torch.tensor([-1.0, 0.0, 3.0, 6.0, 7.0], requires_grad=True)
    y = KerasReLU(max_value=6.0)(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 0.0, 3.0, 6.0, 6.0]
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("name", SHIPPED)
def test_activations_stay_channels_last(name: str) -> None:
    net = build_torch(load_yaml(name), seed=0).to(memory_format=torch.channels_last)
    h, w, c = net.description.input_shape
    x = torch.randn(2, c, h, w).contiguous(memory_format=torch.channels_last)
    outputs = [y for y in net.forward_layers(x).values() if y.dim() == 4]
    assert outputs and all(y.is_contiguous(memory_format=torch.channels_last) for y in outputs)


@pytest.mark.parametrize("name", ["mobilenet_v1_025_32", "reference"])
def test_split_conv_backward_in_a_described_network(name: str) -> None:
    """With every convolution's ``split_backward`` on (stride 2, valid after ZeroPadding2D, one-pixel
    depthwise in MobileNet), the float64 gradients are those of PyTorch's backward to 1e-12."""
    description = load_yaml(name)
    nets = [build_torch(description, seed=0, dtype=torch.float64) for _ in range(2)]
    convs = [m for m in nets[0].modules() if isinstance(m, KerasConv2d)]
    assert convs and not any(m.split_backward for m in convs)  # off by default
    for m in convs:
        m.split_backward = True
    h, w, c = description.input_shape
    torch.manual_seed(0)
    x, y = torch.randn(4, c, h, w, dtype=torch.float64), torch.tensor([0, 3, 5, 9])
    for net in nets:
        F.cross_entropy(net(x), y).backward()
    for (key, got), want in zip(nets[0].named_parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(
            got.grad, want.grad, rtol=0, atol=1e-12 * want.grad.abs().max().item(), msg=key
        )


@pytest.mark.parametrize("name", ["reference", "standard"])
def test_selu_in_place_changes_nothing(name: str) -> None:
    """A layer's own SELU overwrites the layer's output: the logits, every layer's output and the
    gradients are bit for bit those of SELU on a copy."""
    description = load_yaml(name)
    ours, copying = (build_torch(description, seed=0) for _ in range(2))
    selus = [m for m in ours.activations.values() if isinstance(m, SELU)]
    assert selus and all(m.inplace for m in selus)
    for ident, m in copying.activations.items():
        if isinstance(m, SELU):
            copying.activations[ident] = SELU(inplace=False)
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 3, 5, 9])
    layers = [net.forward_layers(x) for net in (ours, copying)]
    assert all(torch.equal(layers[0][k], layers[1][k]) for k in layers[1])
    for net in (ours, copying):
        F.cross_entropy(net(x), y).backward()
    for (key, got), want in zip(ours.named_parameters(), copying.parameters(), strict=True):
        assert torch.equal(got.grad, want.grad), key


_POOLED = {
    "name": "pooled",
    "input_shape": [12, 12, 2],
    "layers": [
        {
            "class": "Conv2D",
            "name": "c1",
            "filters": 3,
            "kernel_size": 3,
            "padding": "same",
            "activation": "elu",
        },
        {"class": "MaxPooling2D", "name": "p1", "pool_size": 3, "strides": 2, "padding": "same"},
        {"class": "Conv2D", "name": "c2", "filters": 4, "kernel_size": 3, "activation": "gelu"},
        {"class": "MaxPooling2D", "name": "p2", "pool_size": 2},
        {"class": "SeparableConv2D", "name": "s1", "filters": 4, "kernel_size": 1},
        {"class": "ReLU", "name": "r1", "max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5},
        {"class": "MaxPooling2D", "name": "p3", "pool_size": 1},
        {"class": "Conv2D", "name": "c3", "filters": 5, "kernel_size": 1, "activation": "selu"},
        {"class": "GlobalMaxPooling2D", "name": "g"},
        {"class": "Dense", "name": "d", "units": 10, "activation": "softmax"},
    ],
}


def test_forward_order_moves_monotone_activations_past_max_pools() -> None:
    from sepconv.arch import from_dict
    from sepconv_torch.arch.net import forward_order

    assert forward_order(load_yaml("reference"))[:6] == (
        ("conv1", False),
        ("conv1", True),
        ("sepconv1", False),
        ("pool1", False),
        ("sepconv1", True),  # SELU after the pool: a quarter of the elements
        ("sepconv2", False),
    )
    assert forward_order(from_dict(_POOLED)) == (
        ("c1", False),
        ("p1", False),
        ("c1", True),  # ELU past a same-padded 3x3/2 pool
        ("c2", False),
        ("c2", True),  # GELU decreases below zero: it stays before the pool
        ("p2", False),
        ("s1", False),
        ("p3", False),
        ("r1", False),  # a ReLU layer (slope and threshold >= 0) past the pool
        ("c3", False),
        ("g", False),
        ("c3", True),  # SELU past the global max pool (not in place: amax keeps its output)
        ("d", False),
        ("d", True),
    )
    mobilenet = forward_order(load_yaml("mobilenet_v1_025_32"))  # no max pool: the literal order
    assert [ident for ident, own in mobilenet if not own] == [
        ident for ident, _ in build_torch(load_yaml("mobilenet_v1_025_32")).names
    ]


@pytest.mark.parametrize("name", ["reference", "standard", "pooled"])
def test_activation_after_max_pool_changes_nothing(name: str) -> None:
    """``forward`` (activations moved past the max pools) gives the logits of the literal order
    (``forward_layers``) and the same float64 gradients."""
    from sepconv.arch import from_dict

    description = from_dict(_POOLED) if name == "pooled" else load_yaml(name)
    net = build_torch(description, seed=0, dtype=torch.float64)
    h, w, c = description.input_shape
    torch.manual_seed(0)
    x, y = torch.randn(4, c, h, w, dtype=torch.float64) * 2, torch.tensor([0, 3, 5, 9])
    grads = []
    for run in (net.forward, lambda x: list(net.forward_layers(x).values())[-1]):
        net.zero_grad()
        logits = run(x)
        F.cross_entropy(logits, y).backward()
        grads.append((logits.detach(), [p.grad.clone() for p in net.parameters()]))
    (moved, moved_grads), (literal, literal_grads) = grads
    torch.testing.assert_close(moved, literal, rtol=0, atol=1e-13)
    for (key, _), got, want in zip(net.named_parameters(), moved_grads, literal_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12 * want.abs().max().item(), msg=key)


def test_moving_a_non_monotone_activation_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above fails for a port that also moved GELU (not monotone) past its pool."""
    from sepconv.arch import from_dict
    from sepconv_torch.arch import net as net_module

    monkeypatch.setattr(net_module, "MONOTONE_ACTIVATIONS", net_module.MONOTONE_ACTIVATIONS | {"gelu"})
    with pytest.raises(AssertionError):
        test_activation_after_max_pool_changes_nothing("pooled")
    assert net_module.forward_order(from_dict(_POOLED))[4:6] == (("p2", False), ("c2", True))
