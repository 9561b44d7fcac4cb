"""A description (:class:`sepconv.arch.Architecture`) built as a Keras ``Sequential``, layer names kept.

Each layer is the Keras class of its kind with the description's arguments; ``gelu_tanh`` (GELU with
``approximate=True``, which Keras has no string for) is the registered function
``sepconv>gelu_tanh``, so a saved model keeps it and :mod:`sepconv.arch.keras_files` reads it back.
Importing it loads TensorFlow quietly (:func:`sepconv.compat.import_tensorflow`), PyTorch kept usable.
"""

from __future__ import annotations

from typing import Any

from sepconv.arch import layers as L
from sepconv.arch.errors import ArchitectureError
from sepconv.arch.network import Architecture
from sepconv.compat import import_tensorflow

import_tensorflow(quiet=True)  # triton first if installed, then TensorFlow without its start-up lines

import keras  # noqa: E402

__all__ = ["build_keras", "gelu_tanh"]


@keras.saving.register_keras_serializable(package="sepconv", name="gelu_tanh")
def gelu_tanh(x: Any) -> Any:
    """GELU, tanh approximation: ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))``."""
    return keras.activations.gelu(x, approximate=True)


def _activation(name: str) -> Any:
    return gelu_tanh if name == "gelu_tanh" else name


def _layer(layer: L.Layer, dtype: str, seed: int | None) -> keras.layers.Layer:
    args = layer.arguments()
    if "activation" in args:
        args["activation"] = _activation(args["activation"])
    init = {} if seed is None else _initializers(layer, seed)
    cls = getattr(keras.layers, type(layer).__name__)
    return cls(**args, **init, dtype=dtype)


def _initializers(layer: L.Layer, seed: int) -> dict[str, Any]:
    """Seeded default initializers, so a seed makes the Keras weights repeatable."""
    glorot = keras.initializers.GlorotUniform
    if isinstance(layer, L.SeparableConv2D):
        return {"depthwise_initializer": glorot(seed=seed), "pointwise_initializer": glorot(seed=seed + 1)}
    if isinstance(layer, L.DepthwiseConv2D):
        return {"depthwise_initializer": glorot(seed=seed)}
    if isinstance(layer, L.Conv2D | L.Dense):
        return {"kernel_initializer": glorot(seed=seed)}
    return {}


def build_keras(
    description: Architecture, dtype: str = "float32", seed: int | None = None
) -> keras.Sequential:
    """``keras.Sequential`` of ``description``: input ``(N, H, W, C)`` (NHWC), output ``(N, classes)``
    (probabilities when the last activation is softmax). ``dtype`` is every layer's compute and variable
    dtype; ``seed`` seeds each weighted layer's initializer (layer ``i`` uses ``seed + 2i``, ``+ 2i + 1``)."""
    if not isinstance(description, Architecture):
        raise ArchitectureError(f"build_keras needs an Architecture, received {type(description).__name__}")
    layers = [
        _layer(layer, dtype, None if seed is None else seed + 2 * i)
        for i, layer in enumerate(description.layers)
    ]
    return keras.Sequential(
        [keras.Input(shape=description.input_shape, dtype=dtype), *layers], name=description.name
    )
