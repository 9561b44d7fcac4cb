"""The Keras model, built by looping over the shared architecture table (the tutorial's network)."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from sepconv.init import INITIALIZERS, Initializer
from sepconv.spec import INPUT_SHAPE, REFERENCE, LayerSpec, input_features, validate_spec

__all__ = ["build_model"]


def _initializer(name: str, seed: int | None, depthwise_channels: int = 0) -> keras.initializers.Initializer:
    """Keras' initializer ``name``; for ``lecun_normal_dw`` on a depthwise kernel of ``depthwise_channels``
    channels, LeCun normal with fan-in ``kh * kw`` (Keras' own rule counts ``kh * kw * C``)."""
    if name not in INITIALIZERS:
        raise ValueError(f"initializer must be one of {INITIALIZERS}, received {name!r}")
    if name == "lecun_normal_dw":
        if depthwise_channels:
            return keras.initializers.VarianceScaling(
                float(depthwise_channels), "fan_in", "truncated_normal", seed=seed
            )
        name = "lecun_normal"
    return keras.initializers.get({"class_name": name, "config": {"seed": seed}})


def _make_layer(
    layer: LayerSpec, in_features: int, initializer: str, seed: int | None, dtype: str
) -> keras.layers.Layer:
    def init(offset: int, depthwise_channels: int = 0) -> keras.initializers.Initializer:
        return _initializer(initializer, None if seed is None else seed + offset, depthwise_channels)

    common = {"name": layer.name, "dtype": dtype}
    if layer.kind == "conv":
        return keras.layers.Conv2D(
            layer.filters,
            layer.kernel,
            padding=layer.padding,
            activation=layer.activation,
            kernel_initializer=init(0),
            **common,
        )
    if layer.kind == "sepconv":
        return keras.layers.SeparableConv2D(
            layer.filters,
            layer.kernel,
            padding=layer.padding,
            activation=layer.activation,
            depthwise_initializer=init(0, in_features),
            pointwise_initializer=init(1),
            **common,
        )
    if layer.kind == "maxpool":
        return keras.layers.MaxPool2D(layer.kernel, **common)
    if layer.kind == "flatten":
        return keras.layers.Flatten(**common)  # (N, H, W, C) -> (N, H*W*C), i.e. (h, w, c) order
    return keras.layers.Dense(
        layer.filters, activation=layer.activation, kernel_initializer=init(0), **common
    )


def build_model(
    spec: Sequence[LayerSpec] = REFERENCE,
    initializer: Initializer = "glorot_uniform",
    seed: int | None = None,
    dtype: str = "float32",
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
) -> keras.Sequential:
    """The reference network: input ``(N, 28, 28, 1)`` (NHWC), output ``(N, 10)`` softmax probabilities.

    Layer names come from the spec (``conv1``, ``sepconv1``, ...). ``seed`` makes
    the initial weights repeatable (layer ``i`` uses seeds ``seed + 2i``, ``+ 2i + 1``);
    ``dtype`` ("float32" or "float64") sets every layer's compute and variable dtype.
    """
    validate_spec(spec)
    layers = [
        _make_layer(
            layer,
            input_features(spec, layer.name, input_shape),
            initializer,
            None if seed is None else seed + 2 * i,
            dtype,
        )
        for i, layer in enumerate(spec)
    ]
    return keras.Sequential([keras.Input(shape=input_shape, dtype=dtype), *layers], name="sepconv")
