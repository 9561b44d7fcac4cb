"""A :class:`Slot`: a model's weight for one mapping row: names, shape, dtype, reader, writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Slot", "SlotMatch"]


@dataclass(frozen=True)
class Slot:
    """One weight in its framework's own layout; ``shape`` is ``None`` when the row found nothing.

    ``label`` names the model's own layer and weight (``Keras layer 'dense_1' weight 'kernel'``,
    ``PyTorch 'net.dense1.weight'``) so that errors point at what the user wrote; ``layer`` and
    ``weight`` are those names alone; ``dtype`` is a NumPy dtype name (``float32``).
    """

    label: str
    shape: tuple[int, ...] | None
    dtype: str | None = None
    layer: str | None = None
    weight: str | None = None
    read: Callable[[], np.ndarray] | None = None
    write: Callable[[np.ndarray], None] | None = None
    handle: Any = None  # the Keras variable or PyTorch tensor itself (for gradients)


@dataclass(frozen=True)
class SlotMatch:
    """The slots of a model, one per mapping row, and its weights that belong to no row (``unexpected``)."""

    slots: tuple[Slot, ...]
    unexpected: tuple[Slot, ...]
