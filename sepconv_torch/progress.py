"""The training progress bars, counting epochs from 1 as metrics.csv, checkpoint names and curves do.

Lightning's bars show the 0-based ``trainer.current_epoch`` (the last of 10 epochs as ``Epoch 9/9``
with rich, ``Epoch 9`` with tqdm); these show ``Epoch 10/10``. :func:`counting_from_one` swaps
Lightning's default bar for the matching one.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar, TQDMProgressBar

__all__ = ["EpochProgressBar", "EpochRichProgressBar", "counting_from_one"]


def _description(trainer: L.Trainer) -> str:
    total = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs > 0 else "?"
    return f"Epoch {trainer.current_epoch + 1}/{total}"


class EpochProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, its training description ``Epoch 3/10``."""

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(_description(trainer))


class EpochRichProgressBar(RichProgressBar):
    """Lightning's rich bar, its training description ``Epoch 3/10``."""

    def _get_train_description(self, current_epoch: int) -> str:
        text = _description(self.trainer)
        return f"{text:{len(self.validation_description)}}"  # padded as Lightning's, against flicker


def counting_from_one(bar: ProgressBar, tqdm_refresh_rate: int) -> ProgressBar:
    """The 1-based bar for Lightning's own ``bar`` (tqdm redrawn every ``tqdm_refresh_rate`` batches
    where it was every batch); any other bar as it is."""
    if type(bar) is TQDMProgressBar:
        refresh = tqdm_refresh_rate if bar.refresh_rate == 1 else bar.refresh_rate
        return EpochProgressBar(refresh_rate=refresh, process_position=bar.process_position, leave=bar._leave)
    if type(bar) is RichProgressBar:
        return EpochRichProgressBar(
            refresh_rate=bar.refresh_rate,
            leave=bar._leave,
            theme=bar.theme,
            console_kwargs=bar._console_kwargs,
        )
    return bar
