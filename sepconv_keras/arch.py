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


def _layer(
    layer: L.Layer, dtype: str, seed: int | None, initializer: str = "glorot_uniform", channels: int = 0
) -> keras.layers.Layer:
    args = layer.arguments()
    if "activation" in args:
        args["activation"] = _activation(args["activation"])
    init = (
        {}
        if seed is None and initializer == "glorot_uniform"
        else _initializers(layer, seed, initializer, channels)
    )
    cls = getattr(keras.layers, type(layer).__name__)
    return cls(**args, **init, dtype=dtype)


def _initializers(
    layer: L.Layer, seed: int | None, initializer: str = "glorot_uniform", channels: int = 0
) -> dict[str, Any]:
    """The kernels' initializers (``initializer``, a recipe's; seeded, so a seed makes the Keras weights
    repeatable); ``channels``: the layer's input channels (``lecun_normal_dw``'s depthwise fan-in)."""
    from sepconv_keras.model import _initializer

    def init(offset: int, depthwise_channels: int = 0) -> Any:
        return _initializer(initializer, None if seed is None else seed + offset, depthwise_channels)

    if isinstance(layer, L.SeparableConv2D | L.DepthwiseConv2D):
        dw = {"depthwise_initializer": init(0, channels)}
        return {**dw, "pointwise_initializer": init(1)} if isinstance(layer, L.SeparableConv2D) else dw
    if isinstance(layer, L.Conv2D | L.Dense):
        return {"kernel_initializer": init(0)}
    return {}


def build_keras(
    description: Architecture,
    dtype: str = "float32",
    seed: int | None = None,
    initializer: str = "glorot_uniform",
) -> keras.Sequential:
    """``keras.Sequential`` of ``description``: input ``(N, H, W, C)`` (NHWC), output ``(N, classes)``
    (probabilities when the last activation is softmax). ``dtype`` is every layer's compute and variable
    dtype; ``seed`` seeds each weighted layer's initializer (layer ``i`` uses ``seed + 2i``, ``+ 2i + 1``);
    ``initializer`` (:data:`sepconv.init.INITIALIZERS`) draws every kernel."""
    if not isinstance(description, Architecture):
        raise ArchitectureError(f"build_keras needs an Architecture, received {type(description).__name__}")
    layers = [
        _layer(layer, dtype, None if seed is None else seed + 2 * i, initializer, shape[-1])
        for i, (layer, shape) in enumerate(description.inputs())
    ]
    return keras.Sequential(
        [keras.Input(shape=description.input_shape, dtype=dtype), *layers], name=description.name
    )
