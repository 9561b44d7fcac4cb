"""A Keras model as read from a weight file: its layers' names, classes and arrays, no Keras object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["StoredKerasLayer", "StoredKerasModel"]


@dataclass(frozen=True)
class StoredKerasLayer:
    """One layer: its name in the file, its Keras class name, its weights ``(name, array)`` in Keras order."""

    name: str
    class_name: str
    weights: tuple[tuple[str, np.ndarray], ...] = ()


@dataclass(frozen=True)
class StoredKerasModel:
    """The layers of a Keras weight file in network order (nested models flattened; no ``InputLayer``).

    A transfer *source* like a ``keras.Model`` (read-only); ``path`` is the file it came from.
    """

    layers: tuple[StoredKerasLayer, ...]
    path: str = ""

    def get_weights(self) -> list[np.ndarray]:
        """Every array, in layer order (the order of ``keras.Model.get_weights``)."""
        return [array for layer in self.layers for _, array in layer.weights]
