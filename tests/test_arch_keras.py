"""Descriptions built in Keras and PyTorch agree in float64: every layer's output within 1e-12, the
BatchNorm moving averages after a training-mode batch, the parameter counts layer by layer, and the
weights both ways. Each numerics point also has a broken variant that these checks catch."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from arch_pairs import build_pair, gradient_diff, keras_layer_outputs, layer_diffs, nhwc
from torch import nn

from sepconv import arch as A
from sepconv_torch.arch import ArchNet, build_torch
from sepconv_torch.arch.weights import torch_to_keras

TOL = 1e-12

#: hand-made chains, one per numerics point
CHAINS = {
    "bn_stride2_relu6": A.Architecture(
        "bn_stride2_relu6",
        (9, 8, 3),
        (
            A.Conv2D("conv", 6, 3, strides=2, padding="same", use_bias=False),
            A.BatchNormalization("bn", momentum=0.9),
            A.ReLU("relu6", max_value=6.0),
            A.Conv2D("conv_b", 4, (2, 3), strides=(2, 1), padding="same", activation="relu6"),
            A.BatchNormalization("bn_b", epsilon=1e-5, center=False, scale=False),
            A.GlobalAveragePooling2D("gap"),
            A.Dense("out", 5, activation="softmax"),
        ),
    ),
    "depth_multiplier_2": A.Architecture(
        "depth_multiplier_2",
        (8, 7, 3),
        (
            A.DepthwiseConv2D("dw", 3, strides=2, padding="same", depth_multiplier=2, activation="gelu_tanh"),
            A.SeparableConv2D("sep", 5, (3, 2), padding="valid", depth_multiplier=2, activation="gelu"),
            A.Flatten("flatten"),
            A.Dense("out", 4),
        ),
    ),
    "padding_pooling": A.Architecture(
        "padding_pooling",
        (7, 10, 2),
        (
            A.ZeroPadding2D("pad", ((0, 1), (2, 0))),
            A.MaxPooling2D("max", 3, strides=2, padding="same"),
            A.ZeroPadding2D("pad_b", 1),
            A.AveragePooling2D("avg", 3, strides=2, padding="same"),
            A.Conv2D("conv", 6, 1, activation="leaky_relu"),
            A.GlobalMaxPooling2D("gmp", keepdims=True),
            A.Reshape("reshape", (6,)),
            A.Dense("out", 3, activation="softmax"),
        ),
    ),
    "activations": A.Architecture(
        "activations",
        (6, 6, 2),
        (
            A.Conv2D("c_elu", 4, 3, padding="same", activation="elu"),
            A.ReLU("capped", max_value=0.4, negative_slope=0.1, threshold=0.05),
            A.Conv2D("c_selu", 4, 3, padding="same", activation="selu"),
            A.SpatialDropout2D("sdrop", 0.3),
            A.Conv2D("c_silu", 4, 1, activation="silu"),
            A.LeakyReLU("leaky"),
            A.MaxPooling2D("pool", 2),
            A.Activation("sig", "sigmoid"),
            A.Flatten("flatten"),
            A.Dropout("drop", 0.5),
            A.Dense("d_tanh", 6, activation="tanh"),
            A.Reshape("to_map", (1, 2, 3)),
            A.Flatten("flatten_b"),
            A.Dense("d_swish", 5, activation="swish"),
            A.Dense("out", 3),
        ),
    ),
}
DESCRIPTIONS = ("reference", "standard", "mobilenet_v1_025_32")


def _slow(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.slow)


def _slow_pair(name: str, flag: bool) -> object:
    return pytest.param(name, flag, marks=pytest.mark.slow)


#: the shipped descriptions, the largest (standard: 435k parameters) under the slow marker
DESCRIPTIONS_FAST = ("reference", _slow("standard"), "mobilenet_v1_025_32")


def _arch(name: str) -> A.Architecture:
    return CHAINS[name] if name in CHAINS else A.load_yaml(name)


@functools.cache
def _shared_pair(name: str) -> tuple[object, object]:
    """One pair per description for the tests that only read it (building Keras models is the cost)."""
    return build_pair(_arch(name))


def _input(arch: A.Architecture, n: int = 3, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, (n, *arch.input_shape))


@pytest.mark.parametrize(
    "name",
    [*(pytest.param(n, marks=pytest.mark.slow) if n == "standard" else n for n in DESCRIPTIONS), *CHAINS],
)
def test_forward_every_layer_float64(name: str) -> None:
    arch = _arch(name)
    model, net = _shared_pair(name)
    diffs = layer_diffs(arch, model, net, _input(arch))
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.parametrize("name", [*DESCRIPTIONS, *CHAINS])
def test_parameter_counts_per_layer(name: str) -> None:
    arch = _arch(name)
    model, net = _shared_pair(name)
    keras_counts = {layer.name: layer.count_params() for layer in model.layers if layer.count_params()}
    torch_counts: dict[str, int] = {}
    for key, tensor in net.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            layer = dict(net.names)[key.split(".")[0]]
            torch_counts[layer] = torch_counts.get(layer, 0) + tensor.numel()
    assert keras_counts == arch.param_counts() == torch_counts


@pytest.mark.parametrize(
    "name", [pytest.param("mobilenet_v1_025_32", marks=pytest.mark.slow), "bn_stride2_relu6"]
)
def test_batchnorm_update_after_one_training_batch(name: str) -> None:
    arch = _arch(name)
    model, net = build_pair(arch)
    x = _input(arch, n=8, seed=2)
    keras_out = keras_layer_outputs(model, x, training=True)
    net.train()
    torch_out = net.forward_layers(torch.from_numpy(x).permute(0, 3, 1, 2))
    bns = [layer for layer in arch.layers if isinstance(layer, A.BatchNormalization)]
    assert bns
    for layer in bns:
        index = arch.layers.index(layer)
        assert np.abs(nhwc(torch_out[layer.name]) - keras_out[index]).max() <= TOL, layer.name
        module = getattr(net, A.module_name(layer.name))
        keras_layer = model.get_layer(layer.name)
        moving_mean, moving_var = (np.asarray(v) for v in keras_layer.weights[-2:])
        assert np.abs(module.running_mean.numpy() - moving_mean).max() <= TOL, layer.name
        assert np.abs(module.running_var.numpy() - moving_var).max() <= TOL, layer.name
        assert int(module.num_batches_tracked) == 1


@pytest.mark.parametrize("name", ["mobilenet_v1_025_32", "depth_multiplier_2", "reference"])
def test_weights_round_trip_bit_exact(name: str) -> None:
    arch = _arch(name)
    model, net = _shared_pair(name)
    before = [np.array(w) for w in model.get_weights()]
    fresh = build_torch(arch, dtype=torch.float64)
    fresh.load_state_dict(net.state_dict())
    from arch_pairs import build_keras  # the module imports Keras safely

    back = build_keras(arch, "float64")
    torch_to_keras(fresh, back)
    after = back.get_weights()
    assert len(before) == len(after)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


# ---- broken ports: each numerics point, done PyTorch's way, is caught -------------------------------


def _worst(arch: A.Architecture, model: object, net: ArchNet, scale: float = 1.0) -> float:
    return max(layer_diffs(arch, model, net, scale * _input(arch)).values())


def test_broken_symmetric_padding_at_stride_2_is_caught() -> None:
    arch = CHAINS["bn_stride2_relu6"]
    model, net = build_pair(arch)
    net.conv.keras_padding = "valid"
    net.conv.padding = (1, 1)  # PyTorch's symmetric padding: one row/column on each side
    assert _worst(arch, model, net) > 1e-3


def test_broken_batchnorm_epsilon_is_caught() -> None:
    arch = CHAINS["bn_stride2_relu6"]
    model, net = build_pair(arch)
    net.bn.epsilon = 1e-5
    assert _worst(arch, model, net) > 1e-6


def test_broken_unbiased_running_variance_is_caught() -> None:
    arch = CHAINS["bn_stride2_relu6"]
    model, net = build_pair(arch)
    x = _input(arch, n=8, seed=2)
    keras_layer_outputs(model, x, training=True)  # moves Keras' averages
    keras_var = np.asarray(model.get_layer("bn").weights[-1])
    # PyTorch's own BatchNorm2d (same keys), the complementary momentum: its running_var is unbiased
    torch_bn = nn.BatchNorm2d(6, eps=1e-3, momentum=1 - 0.9, dtype=torch.float64)
    torch_bn.load_state_dict(net.bn.state_dict())
    net.bn = torch_bn
    net.train()(torch.from_numpy(x).permute(0, 3, 1, 2))
    assert np.abs(torch_bn.running_var.numpy() - keras_var).max() > 1e-4


def test_broken_relu_without_cap_is_caught() -> None:
    arch = CHAINS["bn_stride2_relu6"]
    model, net = build_pair(arch)
    assert _worst(arch, model, net, scale=30.0) <= TOL  # inputs large enough to reach the cap
    net.relu6.max_value = None
    assert _worst(arch, model, net, scale=30.0) > 1e-3


def test_broken_depth_multiplier_channel_order_is_caught() -> None:
    arch = CHAINS["depth_multiplier_2"]
    model, net = build_pair(arch)
    with torch.no_grad():
        w = net.dw.weight  # (C*m, 1, kh, kw), channel c*m + k; interleave as k*C + c instead
        c, m = 3, 2
        w.copy_(w.reshape(c, m, *w.shape[1:]).transpose(0, 1).reshape(w.shape))
    assert _worst(arch, model, net) > 1e-3


def test_mobilenet_description_is_keras_applications() -> None:
    import keras

    keras.backend.clear_session()  # Keras numbers unnamed layers per session: start from 'reshape' again
    built = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=10)
    read = A.architecture_from_config(json.loads(built.to_json()))
    shipped = A.load_yaml("mobilenet_v1_025_32")
    # Keras numbers its unnamed Reshape by how many it has made in the process; the file names it 'reshape'
    renamed = [A.Reshape("reshape", x.target_shape) if isinstance(x, A.Reshape) else x for x in read.layers]
    assert tuple(renamed) == shipped.layers
    assert read.input_shape == shipped.input_shape
    assert {la.name: la.count_params() for la in built.layers if la.count_params()} == read.param_counts()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_saved_keras_files_read_back_as_the_description(suffix: str, tmp_path: Path) -> None:
    arch = CHAINS["depth_multiplier_2"]  # gelu_tanh travels as the registered sepconv>gelu_tanh
    model, _ = _shared_pair("depth_multiplier_2")
    model.save(tmp_path / f"m{suffix}")
    assert A.load_keras_architecture(tmp_path / f"m{suffix}") == arch


def test_keras2_h5_functional_chain(tmp_path: Path) -> None:
    """A real Keras 2 (tf_keras) functional model saved as .h5: read as the description, and its float32
    forward reproduced by the PyTorch build with its weights."""
    import tf_keras as k2

    layers = k2.layers
    inputs = k2.Input((12, 10, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="c")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU(6.0, name="r")(x)
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="zp")(x)
    x = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, name="dw")(x)
    x = layers.SeparableConv2D(4, 3, padding="same", activation="relu6", name="sep")(x)
    x = layers.LeakyReLU(0.1, name="lr")(x)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = layers.Dropout(0.2, name="drop")(x)
    x = layers.Reshape((4,), name="rs")(x)
    model = k2.Model(inputs, layers.Dense(3, activation="softmax", name="out")(x), name="k2func")
    rng = np.random.default_rng(0)
    model.get_layer("bn").set_weights([rng.uniform(0.5, 1.5, 8), rng.normal(0, 0.1, 8), rng.normal(0, 0.1, 8),
                                       rng.uniform(0.5, 1.5, 8)])  # fmt: skip
    model.save(tmp_path / "k2.h5")
    arch = A.load_keras_architecture(tmp_path / "k2.h5")
    assert [type(la).__name__ for la in arch.layers][:5] == [
        "Conv2D", "BatchNormalization", "ReLU", "ZeroPadding2D", "DepthwiseConv2D"
    ]  # fmt: skip
    assert arch.layers[1] == A.BatchNormalization("bn", axis=3)
    net = build_torch(arch).eval()
    from sepconv_torch.arch.weights import keras_to_torch

    keras_to_torch(model, net)
    x = rng.normal(0.0, 1.0, (4, 12, 10, 3)).astype(np.float32)
    want = model(x, training=False).numpy()
    with torch.no_grad():
        got = torch.softmax(net(torch.from_numpy(x).permute(0, 3, 1, 2)), 1).numpy()
    assert np.abs(got - want).max() < 1e-6


@pytest.mark.parametrize(
    ("name", "training"),
    [
        ("bn_stride2_relu6", True),
        ("depth_multiplier_2", False),
        ("padding_pooling", False),
        ("reference", False),
        _slow_pair("mobilenet_v1_025_32", False),
    ],
)
def test_gradients_float64(name: str, training: bool) -> None:
    """The gradient of one loss with respect to every trainable weight, mapped back to Keras' layout."""
    arch = _arch(name)
    model, net = build_pair(arch)
    assert gradient_diff(arch, model, net, _input(arch, n=4, seed=5), training) <= TOL
