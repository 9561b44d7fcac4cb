"""``FiniteGuard``: a non-finite loss stops training with a clear error, and no checkpoint gets bad weights.

Two checks, both raising :class:`sepconv.errors.TrainingError` (``sepconv-torch``
prints it as one line and exits with status 1):

* after every training batch, the loss must be finite: the error names the
  epoch, the batch and the global step;
* before any checkpoint is written (``on_save_checkpoint``: ``ModelCheckpoint``'s
  best and ``last.ckpt`` alike), every parameter and the epoch's logged losses
  must be finite. This catches weights spoiled by the last step of an epoch,
  whose loss was still finite, before validation's checkpoint would keep them.

Raising aborts ``Trainer.fit`` before the write, so the best and last
checkpoints on disk stay those of the last good epoch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import torch

from sepconv.errors import TrainingError

__all__ = ["FiniteGuard"]

#: logged values whose non-finiteness makes a checkpoint worthless
WATCHED = ("loss", "val_loss")


def _kept(trainer: L.Trainer) -> str:
    """The last and best checkpoints on disk (ModelCheckpoint names a new best before it writes it)."""
    callback = trainer.checkpoint_callback
    paths = [
        f"{name} {path}"
        for name, path in (
            ("last", getattr(callback, "last_model_path", "")),
            ("best", getattr(callback, "best_model_path", "")),
        )
        if path and Path(path).is_file()
    ]
    return "kept: " + ", ".join(paths) if paths else "no checkpoint had been written"


class FiniteGuard(L.Callback):
    """Stops ``fit`` at the first non-finite training loss or before saving non-finite weights."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        bad = isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss.detach()).all())
        # every process stops together (under DDP one rank alone raising would leave the others waiting)
        if trainer.strategy.reduce_boolean_decision(bad, all=False):
            value = float(loss.detach().float().mean()) if bad else "on another process"
            raise TrainingError(
                f"training diverged: non-finite training loss ({value}) at epoch {trainer.current_epoch + 1}"
                f", batch {batch_idx + 1} (global step {trainer.global_step}); stopped, {_kept(trainer)}; "
                "lower model.lr or add warm-up"
            )

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        bad = [name for name, p in pl_module.named_parameters() if not bool(torch.isfinite(p.detach()).all())]
        metrics = {k: float(trainer.callback_metrics[k]) for k in WATCHED if k in trainer.callback_metrics}
        bad_metrics = {k: v for k, v in metrics.items() if not math.isfinite(v)}
        if bad or bad_metrics:
            what = f"parameters {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}" if bad else ""
            what += (" and " if bad and bad_metrics else "") + ", ".join(
                f"{k}={v}" for k, v in bad_metrics.items()
            )
            raise TrainingError(
                f"training diverged: non-finite {what} at the end of epoch {trainer.current_epoch + 1} "
                f"(global step {trainer.global_step}); no checkpoint written, {_kept(trainer)}; "
                "lower model.lr or add warm-up"
            )
