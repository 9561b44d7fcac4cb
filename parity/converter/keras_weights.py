"""Finding the mapping's weights in a Keras model (or one read from a file) by structure, not by name.

A model written as the reference tutorial writes it names its layers
``conv2d``, ``separable_conv2d_1``, ``dense_1``, ...; the spec calls them
``conv1``, ``sepconv2``, ``dense1``. The i-th Keras layer that holds weights is
matched to the i-th weighted layer of the spec, provided its kind agrees;
within a layer, weights are matched by their Keras names (``kernel``, ``bias``,
``depthwise_kernel``, ``pointwise_kernel``). :func:`keras_layers` is the one walk
over a model's layers that the converter and the harness share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from parity.converter.mapping import Row
from parity.converter.slots import Slot, SlotMatch
from parity.converter.stored import StoredKerasModel

__all__ = ["KERAS_KINDS", "keras_kind", "keras_layers", "keras_slots", "weighted_keras_layers"]

#: Keras class name -> the spec's layer kind (both spellings of max pooling).
KERAS_KINDS = {
    "Conv2D": "conv",
    "SeparableConv2D": "sepconv",
    "Dense": "dense",
    "MaxPooling2D": "maxpool",
    "MaxPool2D": "maxpool",
    "Flatten": "flatten",
}


def keras_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer in order, the layers of nested models in place of the model, without ``InputLayer``."""
    found: list[keras.layers.Layer] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += keras_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            found.append(layer)
    return found


def weighted_keras_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of :func:`keras_layers` that hold weights."""
    return [layer for layer in keras_layers(model) if layer.weights]


def keras_kind(layer: keras.layers.Layer) -> str:
    """``conv``, ``sepconv``, ``dense``, ... for the layer classes of the spec, else the class name."""
    for cls in type(layer).__mro__:
        if cls.__name__ in KERAS_KINDS and cls.__module__.startswith("keras"):
            return KERAS_KINDS[cls.__name__]
    return type(layer).__name__


@dataclass(frozen=True)
class _Layer:
    """A weighted layer of either source: its name, kind, class name and weight slots in Keras order."""

    name: str
    kind: str
    class_name: str
    slots: tuple[Slot, ...]


def _variable_slot(layer: keras.layers.Layer, variable: Any) -> Slot:
    def read() -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(variable))

    def write(value: np.ndarray) -> None:
        variable.assign(value.astype(variable.dtype))

    return Slot(
        f"Keras layer {layer.name!r} weight {variable.name!r}",
        tuple(int(d) for d in variable.shape),
        str(variable.dtype),
        layer.name,
        variable.name,
        read,
        write,
        variable,
    )


def _array_slot(layer: str, name: str, array: np.ndarray) -> Slot:
    return Slot(
        f"Keras layer {layer!r} weight {name!r}",
        tuple(array.shape),
        str(array.dtype),
        layer,
        name,
        lambda: np.array(array, copy=True),
    )


def _weighted(model: keras.Model | StoredKerasModel) -> list[_Layer]:
    if isinstance(model, StoredKerasModel):
        return [
            _Layer(
                layer.name,
                KERAS_KINDS.get(layer.class_name, layer.class_name),
                layer.class_name,
                tuple(_array_slot(layer.name, n, a) for n, a in layer.weights),
            )
            for layer in model.layers
            if layer.weights
        ]
    return [
        _Layer(
            layer.name,
            keras_kind(layer),
            type(layer).__name__,
            tuple(_variable_slot(layer, v) for v in layer.weights),
        )
        for layer in weighted_keras_layers(model)
    ]


def keras_slots(model: keras.Model | StoredKerasModel, rows: Sequence[Row]) -> SlotMatch:
    """One slot per row (a shapeless slot where the model lacks it) and the model's unexpected weights."""
    layers = _weighted(model)
    order = list(dict.fromkeys(row.layer for row in rows))  # spec layer names, in order
    kinds = {row.layer: row.kind for row in rows}
    by_spec = dict(zip(order, layers, strict=False))
    slots: list[Slot] = []
    used: set[int] = set()
    for row in rows:
        layer = by_spec.get(row.layer)
        if layer is None:
            slots.append(Slot(f"Keras model (no weighted layer #{order.index(row.layer) + 1})", None))
            continue
        if layer.kind != row.kind:
            slots.append(
                Slot(
                    f"Keras layer {layer.name!r} ({layer.class_name}, not a {row.kind})",
                    None,
                    layer=layer.name,
                )
            )
            continue
        found = [s for s in layer.slots if s.weight == row.keras_weight]
        if not found:
            slots.append(
                Slot(f"Keras layer {layer.name!r} (no weight {row.keras_weight!r})", None, layer=layer.name)
            )
            continue
        used.add(id(found[0]))
        slots.append(found[0])
    unexpected = [
        s
        for spec_name, layer in by_spec.items()
        if layer.kind == kinds[spec_name]
        for s in layer.slots
        if id(s) not in used
    ]
    unexpected += [
        Slot(
            f"Keras layer {layer.name!r} ({layer.class_name}) with weights "
            f"{[(s.weight, s.shape) for s in layer.slots]}",
            None,
            layer=layer.name,
        )
        for layer in layers[len(order) :]
    ]
    return SlotMatch(tuple(slots), tuple(unexpected))
