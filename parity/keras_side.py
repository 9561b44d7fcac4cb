"""Finding the mapping's weights in a Keras model by structure, not by name.

A model written as the reference tutorial writes it names its layers
``conv2d``, ``separable_conv2d_1``, ``dense_1``, ...; the spec calls them
``conv1``, ``sepconv2``, ``dense1``. The i-th Keras layer that holds weights is
matched to the i-th weighted layer of the spec, provided its kind agrees;
within a layer, weights are matched by their Keras names (``kernel``, ``bias``,
``depthwise_kernel``, ``pointwise_kernel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from parity.mapping import Row
from parity.slots import Slot, SlotMatch

__all__ = ["keras_kind", "keras_slots", "weighted_keras_layers"]


def keras_kind(layer: keras.layers.Layer) -> str:
    """``conv``, ``sepconv`` or ``dense`` for the layer classes of the spec, else the class name."""
    if isinstance(layer, keras.layers.SeparableConv2D):
        return "sepconv"
    if isinstance(layer, keras.layers.Conv2D):
        return "conv"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    return type(layer).__name__


def weighted_keras_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers that hold weights, in order, looking inside nested models."""
    found: list[keras.layers.Layer] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += weighted_keras_layers(layer)
        elif layer.weights:
            found.append(layer)
    return found


def _slot(layer: keras.layers.Layer, variable: Any) -> Slot:
    def read() -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(variable))

    def write(value: np.ndarray) -> None:
        variable.assign(value.astype(variable.dtype))

    label = f"Keras layer {layer.name!r} weight {variable.name!r}"
    return Slot(label, tuple(int(d) for d in variable.shape), read, write, variable)


def keras_slots(model: keras.Model, rows: Sequence[Row]) -> SlotMatch:
    """One slot per row (a shapeless slot where the model lacks it) and the model's unexpected weights."""
    layers = weighted_keras_layers(model)
    order = list(dict.fromkeys(row.layer for row in rows))  # spec layer names, in order
    by_spec: dict[str, keras.layers.Layer] = dict(zip(order, layers, strict=False))
    slots: list[Slot] = []
    used: set[int] = set()
    for row in rows:
        layer = by_spec.get(row.layer)
        if layer is None:
            slots.append(Slot(f"Keras model (no weighted layer #{order.index(row.layer) + 1})", None))
            continue
        kind = keras_kind(layer)
        if kind != row.kind:
            slots.append(Slot(f"Keras layer {layer.name!r} ({type(layer).__name__}, not a {row.kind})", None))
            continue
        variables = [v for v in layer.weights if v.name == row.keras_weight]
        if not variables:
            slots.append(Slot(f"Keras layer {layer.name!r} (no weight {row.keras_weight!r})", None))
            continue
        used.add(id(variables[0]))
        slots.append(_slot(layer, variables[0]))
    unexpected = [
        f"unexpected Keras weight {v.name!r} {tuple(v.shape)} in layer {layer.name!r}"
        for spec_name, layer in by_spec.items()
        if keras_kind(layer) == next(r.kind for r in rows if r.layer == spec_name)
        for v in layer.weights
        if id(v) not in used
    ]
    unexpected += [
        f"unexpected Keras layer {layer.name!r} ({type(layer).__name__}) with weights "
        f"{[(v.name, tuple(v.shape)) for v in layer.weights]}"
        for layer in layers[len(order) :]
    ]
    return SlotMatch(tuple(slots), tuple(unexpected))
