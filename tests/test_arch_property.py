"""Property test across the family: random valid chains built in both frameworks agree in float64 (every
layer within 1e-12), move weights both ways bit for bit, and survive YAML and a Keras config unchanged.

Few examples by default (the Keras builds are the cost); ``-m slow`` runs many more.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from arch_pairs import build_keras, build_pair, gradient_diff, layer_diffs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepconv import arch as A
from sepconv_torch.arch import build_torch
from sepconv_torch.arch.weights import torch_to_keras

TOL = 1e-12
_ACTIVATIONS = [a for a in A.ACTIVATIONS if a != "softmax"]


def _spatial_layer(draw: Any, name: str) -> A.Layer:
    kind = draw(st.sampled_from(["conv", "sep", "dw", "bn", "relu", "leaky", "act", "pool", "pad", "drop"]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["same", "valid"]))
    activation = draw(st.sampled_from(_ACTIVATIONS))
    bias = draw(st.booleans())
    if kind == "conv":
        return A.Conv2D(name, draw(st.integers(1, 5)), kernel, strides, padding, activation, bias)
    if kind in ("sep", "dw"):
        multiplier, strides = draw(st.integers(1, 2)), (strides[0], strides[0])  # TF: equal strides only
        if kind == "dw":
            return A.DepthwiseConv2D(name, kernel, strides, padding, multiplier, activation, bias)
        filters = draw(st.integers(1, 5))
        return A.SeparableConv2D(name, filters, kernel, strides, padding, multiplier, activation, bias)
    if kind == "bn":
        return A.BatchNormalization(
            name,
            momentum=draw(st.sampled_from([0.99, 0.9, 0.5])),
            epsilon=draw(st.sampled_from([1e-3, 1e-5, 0.1])),
            center=draw(st.booleans()),
            scale=draw(st.booleans()),
        )
    if kind == "relu":
        return A.ReLU(
            name,
            max_value=draw(st.sampled_from([None, 6.0, 0.7])),
            negative_slope=draw(st.sampled_from([0.0, 0.1])),
            threshold=draw(st.sampled_from([0.0, 0.2])),
        )
    if kind == "leaky":
        return A.LeakyReLU(name, draw(st.sampled_from([0.3, 0.05])))
    if kind == "act":
        return A.Activation(name, activation)
    if kind == "pool":
        cls = draw(st.sampled_from([A.MaxPooling2D, A.AveragePooling2D]))
        return cls(name, kernel, strides, padding)
    if kind == "pad":
        return A.ZeroPadding2D(
            name, ((draw(st.integers(0, 2)), draw(st.integers(0, 1))), (1, draw(st.integers(0, 2))))
        )
    return draw(st.sampled_from([A.Dropout, A.SpatialDropout2D]))(name, 0.25)


@st.composite
def chains(draw: Any) -> A.Architecture:
    """A random valid chain: spatial layers, a flattening head, Dense layers, a classifier."""
    shape: tuple[int, ...] = (draw(st.integers(3, 8)), draw(st.integers(3, 8)), draw(st.integers(1, 3)))
    input_shape, layers = shape, []
    for i in range(draw(st.integers(1, 4))):
        layer = _spatial_layer(draw, f"s{i}")
        try:
            shape = layer.output_shape(shape)
        except A.ArchitectureError:  # a valid window larger than its input: pad instead
            layer = type(layer)(**{**layer.arguments(), "padding": "same"})
            shape = layer.output_shape(shape)
        layers.append(layer)
    head = draw(st.sampled_from(["flatten", "gap", "gmp", "gap_keepdims"]))
    if head == "flatten":
        layers.append(A.Flatten("head"))
    elif head == "gap_keepdims":
        layers += [A.GlobalAveragePooling2D("head", keepdims=True), A.Reshape("head_reshape", (shape[-1],))]
    else:
        cls = A.GlobalAveragePooling2D if head == "gap" else A.GlobalMaxPooling2D
        layers.append(cls("head"))
    for i in range(draw(st.integers(0, 2))):
        layers.append(A.Dense(f"d{i}", draw(st.integers(1, 6)), draw(st.sampled_from(_ACTIVATIONS))))
        if draw(st.booleans()):
            layers.append(
                draw(st.sampled_from([A.Dropout(f"d{i}_drop", 0.5), A.BatchNormalization(f"d{i}_bn")]))
            )
    layers.append(A.Dense("out", draw(st.integers(2, 5)), draw(st.sampled_from(["softmax", "linear"]))))
    return A.Architecture("random", input_shape, tuple(layers))  # type: ignore[arg-type]


def _check(arch: A.Architecture) -> None:
    model, net = build_pair(arch)
    x = np.random.default_rng(3).normal(0.0, 1.0, (2, *arch.input_shape))
    diffs = layer_diffs(arch, model, net, x)
    assert max(diffs.values()) <= TOL, (A.dump_yaml(arch), diffs)
    # weights both ways, bit for bit
    back = build_keras(arch, "float64")
    torch_to_keras(net, back)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), back.get_weights(), strict=True))
    again = build_torch(arch, dtype=torch.float64)
    again.load_state_dict(net.state_dict())
    # the description survives YAML, and Keras' own config of the model built from it
    assert A.from_dict(A.to_dict(arch)) == arch
    assert A.architecture_from_config(json.loads(model.to_json())) == arch


def _check_training(arch: A.Architecture) -> None:
    """Training mode (chains without dropout): gradients and BatchNorm moving averages agree."""
    model, net = build_pair(arch)
    x = np.random.default_rng(4).normal(0.0, 1.0, (4, *arch.input_shape))
    assert gradient_diff(arch, model, net, x, training=True) <= TOL, A.dump_yaml(arch)
    for layer in arch.layers:
        if isinstance(layer, A.BatchNormalization):
            module = getattr(net, A.module_name(layer.name))
            want = [np.asarray(v) for v in model.get_layer(layer.name).weights[-2:]]
            assert np.abs(module.running_mean.numpy() - want[0]).max() <= TOL
            assert np.abs(module.running_var.numpy() - want[1]).max() <= TOL


_FAST = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
_MANY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(chains())
def test_random_chains_agree(arch: A.Architecture) -> None:
    _check(arch)


@pytest.mark.slow
@_MANY
@given(chains())
def test_random_chains_agree_many(arch: A.Architecture) -> None:
    _check(arch)


@pytest.mark.slow
@_MANY
@given(chains())
def test_random_chains_train_alike(arch: A.Architecture) -> None:
    if any(isinstance(layer, A.Dropout | A.SpatialDropout2D) for layer in arch.layers):
        arch = A.Architecture(
            arch.name,
            arch.input_shape,
            tuple(la for la in arch.layers if not isinstance(la, A.Dropout | A.SpatialDropout2D)),
        )
    _check_training(arch)
