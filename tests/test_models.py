"""Both builders against the table: names, per-layer counts, the separable block, initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_spec import REFERENCE_COUNTS
from torch import nn

import sepconv_keras
import sepconv_torch
from sepconv.init import init_scale
from sepconv.spec import REFERENCE, param_counts
from sepconv_torch.blocks import SeparableConv2d

TORCH_KEYS = [
    "conv1.weight", "conv1.bias",
    *[f"sepconv{i}.conv_{p}" for i in range(1, 6) for p in ("dw.weight", "pw.weight", "pw.bias")],
    "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias",
]  # fmt: skip


@pytest.fixture(scope="module")
def torch_model() -> sepconv_torch.SepConvNet:
    return sepconv_torch.build_model(seed=0)


@pytest.fixture(scope="module")
def keras_model():
    return sepconv_keras.build_model(seed=0)


def torch_counts(model: nn.Module) -> dict[str, int]:
    return {
        layer.name: sum(p.numel() for p in getattr(model, layer.name).parameters())
        for layer in REFERENCE
        if layer.name in REFERENCE_COUNTS
    }


def test_torch_counts_and_keys(torch_model: nn.Module) -> None:
    assert torch_counts(torch_model) == REFERENCE_COUNTS == param_counts()
    assert list(torch_model.state_dict()) == TORCH_KEYS
    assert sum(p.numel() for p in torch_model.parameters()) == 184_234


def test_keras_counts_and_names(keras_model) -> None:
    assert [layer.name for layer in keras_model.layers] == [layer.name for layer in REFERENCE]
    counts = {layer.name: layer.count_params() for layer in keras_model.layers if layer.count_params()}
    assert counts == REFERENCE_COUNTS
    assert keras_model.count_params() == 184_234


def test_same_layer_names_in_both(torch_model: nn.Module, keras_model) -> None:
    torch_names = [name for name, _ in torch_model.named_children() if name != "activations"]
    assert torch_names == [layer.name for layer in keras_model.layers]


@pytest.mark.parametrize("name", [f"sepconv{i}" for i in range(1, 6)])
def test_depthwise_block(torch_model: nn.Module, name: str) -> None:
    block = getattr(torch_model, name)
    assert isinstance(block, SeparableConv2d)
    assert block.conv_dw.groups == block.conv_dw.in_channels == block.conv_dw.out_channels
    assert block.conv_dw.bias is None
    assert block.conv_pw.kernel_size == (1, 1) and block.conv_pw.bias is not None


def test_output_shapes(torch_model: nn.Module, keras_model) -> None:
    logits = torch_model(torch.zeros(4, 1, 28, 28))
    assert logits.shape == (4, 10)
    probs = keras_model.predict(np.zeros((4, 28, 28, 1), np.float32), verbose=0)
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def _keras_kernels(model) -> dict[str, np.ndarray]:
    return {w.path.split("/", 1)[1]: np.asarray(w) for w in model.weights if "kernel" in w.path}


@pytest.mark.parametrize("initializer", ["glorot_uniform", "lecun_normal", "lecun_normal_dw"])
def test_initialisation_follows_keras_rules(initializer: str) -> None:
    """Every kernel in both frameworks has Keras' scale (fans from the Keras layout); biases are zero."""
    tm = sepconv_torch.build_model(initializer=initializer, seed=1)
    km = sepconv_keras.build_model(initializer=initializer, seed=1)
    for path, kernel in _keras_kernels(km).items():
        layer, weight = path.split("/")
        key = {
            "kernel": "weight",
            "depthwise_kernel": "conv_dw.weight",
            "pointwise_kernel": "conv_pw.weight",
        }[weight]
        torch_w = tm.state_dict()[f"{layer}.{key}"].numpy()
        assert torch_w.size == kernel.size, path
        scale = init_scale(initializer, kernel.shape, depthwise=weight == "depthwise_kernel")
        for values in (kernel, torch_w):
            if initializer == "glorot_uniform":
                assert np.abs(values).max() <= scale
                assert np.abs(values).max() > 0.8 * scale  # a uniform draw of >= 288 values nears the limit
            else:
                target = scale * 0.87962566103423978  # the truncated normal's std
                assert np.abs(values).max() <= 2 * scale
                if values.size >= 1000:
                    assert math.isclose(values.std(), target, rel_tol=0.1), (path, values.std(), target)
    for name, p in tm.named_parameters():
        if name.endswith("bias"):
            assert torch.count_nonzero(p) == 0


def test_lecun_normal_dw_uses_the_depthwise_fan_in() -> None:
    """Depthwise kernels (3, 3, C, 1): std sqrt(1/9) under lecun_normal_dw, sqrt(1/(9C)) under Keras' rule."""
    for initializer, fan_in in (("lecun_normal_dw", 9), ("lecun_normal", 9 * 128)):
        w = sepconv_keras.build_model(initializer=initializer, seed=2).get_layer("sepconv5").depthwise_kernel
        assert math.isclose(float(np.std(np.asarray(w))), math.sqrt(1 / fan_in), rel_tol=0.1)
        tw = sepconv_torch.build_model(initializer=initializer, seed=2).sepconv5.conv_dw.weight.detach()
        assert math.isclose(float(tw.std()), math.sqrt(1 / fan_in), rel_tol=0.1)


def test_seeded_build_is_repeatable() -> None:
    a, b = sepconv_torch.build_model(seed=3), sepconv_torch.build_model(seed=3)
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)
    c = sepconv_torch.build_model(seed=4)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_unknown_activation_named() -> None:
    import dataclasses

    spec = list(REFERENCE)
    spec[0] = dataclasses.replace(spec[0], activation="gelu")
    with pytest.raises(ValueError, match="layer 'conv1': activation must be one of"):
        sepconv_torch.build_model(spec)
