"""``NonFiniteStop``: Keras' ``TerminateOnNaN`` that remembers where the loss stopped being finite.

The training stops gracefully (``model.stop_training``): the epoch's
callbacks still run, and ``ModelCheckpoint(save_best_only=True)`` never keeps a
non-finite ``val_loss`` (NaN compares as no improvement), so ``best.keras``
stays the last good best model. ``sepconv-keras train`` then raises
:class:`sepconv.errors.TrainingError` with :meth:`NonFiniteStop.message`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

__all__ = ["Divergence", "NonFiniteStop"]


@dataclass(frozen=True)
class Divergence:
    """Where the loss was first non-finite: 1-based epoch and batch within it, and the loss."""

    epoch: int
    batch: int
    loss: float


class NonFiniteStop(keras.callbacks.TerminateOnNaN):
    """Stops training at the first NaN/Inf batch loss; :attr:`where` then says where."""

    def __init__(self) -> None:
        super().__init__(raise_error=False)
        self.where: Divergence | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_batch_end(batch, logs)
        if self.model.stop_training and self.where is None and logs and "loss" in logs:
            self.where = Divergence(self._epoch + 1, batch + 1, float(logs["loss"]))

    def message(self, steps_per_epoch: int, best: Path) -> str:
        """The one-line error: where it happened, which checkpoint was kept, what to try."""
        if self.where is None:
            raise ValueError("NonFiniteStop.message: training did not diverge")
        w = self.where
        kept = f"kept: best {best}" if best.is_file() else "no checkpoint had been written"
        step = (w.epoch - 1) * steps_per_epoch + w.batch
        return (
            f"training diverged: non-finite training loss ({w.loss}) at epoch {w.epoch}, batch {w.batch} "
            f"(global step {step}); stopped, {kept}; lower --lr or add warm-up"
        )
