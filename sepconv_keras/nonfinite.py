"""``NonFiniteStop``: Keras' ``TerminateOnNaN`` that names the epoch and batch and raises ``TrainingError``.

It stops training at once, inside the batch (``TerminateOnNaN(raise_error=True)``):
no end-of-epoch callback runs after the divergence, so nothing is saved from the
spoiled weights: ``best.keras`` (and any per-epoch backup) stay those of the last
good epoch. ``sepconv-keras train`` writes the curves of the completed epochs
and exits with status 1 and :meth:`NonFiniteStop.message` as its one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from sepconv.errors import TrainingError

__all__ = ["Divergence", "NonFiniteStop"]


@dataclass(frozen=True)
class Divergence:
    """Where the loss was first non-finite: 1-based epoch and batch within it, and the loss."""

    epoch: int
    batch: int
    loss: float


class NonFiniteStop(keras.callbacks.TerminateOnNaN):
    """Raises :class:`TrainingError` at the first NaN/Inf batch loss; :attr:`where` then says where.

    ``best``: the best-model checkpoint the message reports as kept (if it exists);
    ``steps_per_epoch``: to report the global step.
    """

    def __init__(self, best: Path, steps_per_epoch: int) -> None:
        super().__init__(raise_error=True)
        self.best, self.steps_per_epoch = Path(best), steps_per_epoch
        self.where: Divergence | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        try:
            super().on_batch_end(batch, logs)
        except RuntimeError:
            self.where = Divergence(self._epoch + 1, batch + 1, float((logs or {})["loss"]))
            raise TrainingError(self.message()) from None

    def message(self) -> str:
        """The one-line error: where it happened, which checkpoint was kept, what to try."""
        if self.where is None:
            raise ValueError("NonFiniteStop.message: training did not diverge")
        w = self.where
        kept = f"kept: best {self.best}" if self.best.is_file() else "no checkpoint had been written"
        step = (w.epoch - 1) * self.steps_per_epoch + w.batch
        return (
            f"training diverged: non-finite training loss ({w.loss}) at epoch {w.epoch}, batch {w.batch} "
            f"(global step {step}); stopped, {kept}; lower --lr or add warm-up"
        )
