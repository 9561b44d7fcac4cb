"""The learning-rate schedules of the recipes, as plain functions both frameworks follow.

``cosine``: linear warm-up from 0 to ``lr`` over ``warmup_steps``, then a
half-cosine from ``lr`` to 0 over the remaining steps; the same formula as
``keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=lr,
warmup_steps=warmup_steps)``. ``constant``: ``lr`` throughout (the reference).
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["SCHEDULES", "Schedule", "lr_factor"]

Schedule = Literal["constant", "cosine"]
SCHEDULES: tuple[str, ...] = ("constant", "cosine")


def lr_factor(step: int, schedule: str, total_steps: int, warmup_steps: int = 0) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"schedule must be one of {SCHEDULES}, received {schedule!r}")
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})")
    if step < warmup_steps:
        return step / warmup_steps
    fraction = min(step - warmup_steps, total_steps - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * fraction))
