"""The reference network as data: one table of layer specs that both builders loop over.

The table restates the Keras tutorial model (``shared/reference/seed.md``):
input 28x28x1, an ordinary 3x3 convolution, five depthwise-separable
convolutions with 2x2 max pooling after the 2nd, 4th and 6th conv, Flatten,
Dense(128, selu), Dense(10). Layer names are the ones used in *both*
frameworks (Keras layer names, PyTorch module names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "INPUT_SHAPE",
    "NUM_CLASSES",
    "REFERENCE",
    "LayerKind",
    "LayerSpec",
    "input_features",
    "layer_param_count",
    "output_shapes",
    "param_counts",
    "validate_spec",
    "weighted_layers",
]

LayerKind = Literal["conv", "sepconv", "maxpool", "flatten", "dense"]

#: Input image shape, channels-last (H, W, C) as the reference tutorial states it.
INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the network.

    ``filters`` is the number of output channels (conv, sepconv) or units
    (dense); ``kernel`` is the square kernel size (conv, sepconv) or pool size
    (maxpool). ``activation`` is applied after the layer; the last dense
    layer's ``"softmax"`` is applied by Keras only (PyTorch returns logits).
    """

    name: str
    kind: LayerKind
    filters: int = 0
    kernel: int = 0
    padding: Literal["same", "valid"] = "same"
    activation: str | None = None


REFERENCE: tuple[LayerSpec, ...] = (
    LayerSpec("conv1", "conv", 32, 3, "same", "selu"),
    LayerSpec("sepconv1", "sepconv", 32, 3, "same", "selu"),
    LayerSpec("pool1", "maxpool", kernel=2),
    LayerSpec("sepconv2", "sepconv", 64, 3, "same", "selu"),
    LayerSpec("sepconv3", "sepconv", 64, 3, "same", "selu"),
    LayerSpec("pool2", "maxpool", kernel=2),
    LayerSpec("sepconv4", "sepconv", 128, 3, "same", "selu"),
    LayerSpec("sepconv5", "sepconv", 128, 3, "same", "selu"),
    LayerSpec("pool3", "maxpool", kernel=2),
    LayerSpec("flatten", "flatten"),
    LayerSpec("dense1", "dense", 128, activation="selu"),
    LayerSpec("dense2", "dense", NUM_CLASSES, activation="softmax"),
)

_KINDS = ("conv", "sepconv", "maxpool", "flatten", "dense")
_WEIGHTED = ("conv", "sepconv", "dense")


def validate_spec(spec: Sequence[LayerSpec]) -> None:
    """Raise ``ValueError`` naming the layer if the table is not buildable."""
    seen: set[str] = set()
    flat = False
    for layer in spec:
        where = f"layer {layer.name!r}"
        if layer.name in seen:
            raise ValueError(f"{where}: duplicate layer name")
        seen.add(layer.name)
        if layer.kind not in _KINDS:
            raise ValueError(f"{where}: kind must be one of {_KINDS}, received kind={layer.kind!r}")
        if layer.kind in _WEIGHTED and layer.filters <= 0:
            raise ValueError(f"{where}: filters must be positive, received filters={layer.filters}")
        if layer.kind in ("conv", "sepconv", "maxpool") and layer.kernel <= 0:
            raise ValueError(f"{where}: kernel must be positive, received kernel={layer.kernel}")
        if layer.padding not in ("same", "valid"):
            raise ValueError(f"{where}: padding must be 'same' or 'valid', received {layer.padding!r}")
        if layer.kind in ("conv", "sepconv", "maxpool") and flat:
            raise ValueError(f"{where}: spatial layer after flatten")
        if layer.kind == "dense" and not flat:
            raise ValueError(f"{where}: dense layer before flatten")
        flat = flat or layer.kind == "flatten"


def output_shapes(
    spec: Sequence[LayerSpec] = REFERENCE, input_shape: tuple[int, int, int] = INPUT_SHAPE
) -> dict[str, tuple[int, ...]]:
    """Each layer's output shape, channels-last ``(H, W, C)`` or ``(features,)``.

    Pooling rounds down (``floor``), as Keras' ``MaxPool2D`` and PyTorch's
    ``MaxPool2d(ceil_mode=False)`` both do: 7x7 -> 3x3.
    """
    h, w, c = input_shape
    features = 0
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in spec:
        if layer.kind in ("conv", "sepconv"):
            if layer.padding == "valid":
                h, w = h - layer.kernel + 1, w - layer.kernel + 1
            c = layer.filters
            shapes[layer.name] = (h, w, c)
        elif layer.kind == "maxpool":
            h, w = h // layer.kernel, w // layer.kernel
            shapes[layer.name] = (h, w, c)
        elif layer.kind == "flatten":
            features = h * w * c
            shapes[layer.name] = (features,)
        else:
            features = layer.filters
            shapes[layer.name] = (features,)
    return shapes


def input_features(
    spec: Sequence[LayerSpec], name: str, input_shape: tuple[int, int, int] = INPUT_SHAPE
) -> int:
    """Channels (conv, sepconv) or features (dense) entering layer ``name``."""
    previous: tuple[int, ...] = input_shape
    shapes = output_shapes(spec, input_shape)
    for layer in spec:
        if layer.name == name:
            return previous[-1]
        previous = shapes[layer.name]
    raise KeyError(f"no layer named {name!r} in the spec")


def layer_param_count(layer: LayerSpec, in_features: int) -> int:
    """Number of trainable parameters of ``layer`` given its input channels/features."""
    k = layer.kernel
    if layer.kind == "conv":
        return k * k * in_features * layer.filters + layer.filters
    if layer.kind == "sepconv":
        return k * k * in_features + in_features * layer.filters + layer.filters
    if layer.kind == "dense":
        return in_features * layer.filters + layer.filters
    return 0


def weighted_layers(
    spec: Sequence[LayerSpec] = REFERENCE, input_shape: tuple[int, int, int] = INPUT_SHAPE
) -> list[tuple[LayerSpec, int]]:
    """``(layer, in_features)`` for every layer that holds weights, in order."""
    shapes = output_shapes(spec, input_shape)
    previous: tuple[int, ...] = input_shape
    result: list[tuple[LayerSpec, int]] = []
    for layer in spec:
        if layer.kind in _WEIGHTED:
            result.append((layer, previous[-1]))
        previous = shapes[layer.name]
    return result


def param_counts(spec: Sequence[LayerSpec] = REFERENCE) -> dict[str, int]:
    """Per-layer trainable parameter counts of the weighted layers, in order."""
    return {layer.name: layer_param_count(layer, fin) for layer, fin in weighted_layers(spec)}
