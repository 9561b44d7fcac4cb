"""The ten Fashion-MNIST classes, by label (the order of the data set's label file)."""

from __future__ import annotations

__all__ = ["CLASS_NAMES"]

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
