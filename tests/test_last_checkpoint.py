"""``last.ckpt`` is rewritten after every epoch, also after one that is not the best.

Lightning 2.6's ``ModelCheckpoint`` rewrites ``last.ckpt`` only in a step that also kept a top-k
checkpoint: with ``save_top_k=1`` (the recipes'), an epoch worse than the best left ``last.ckpt`` at an
older epoch, so a run killed in the next epoch resumed from the older one and trained an epoch twice.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from sepconv_torch.resume import RunCheckpoint


class _WorseEachEpoch(BoringModel):
    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val_loss", float(self.current_epoch))  # epoch 1 is the best, every later one worse


class _LastProbe(L.Callback):
    """At the start of each epoch, the global step that ``last.ckpt`` holds (checkpoints of the epoch
    before are written by then: Lightning runs checkpoint callbacks after all others)."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            self.seen.append((trainer.global_step, state["global_step"]))


def test_last_is_every_epoch_not_only_the_best(tmp_path: Path) -> None:
    checkpoint = RunCheckpoint(dirpath=tmp_path, monitor="val_loss", save_top_k=1, save_last=True)
    probe = _LastProbe(tmp_path / "last.ckpt")
    trainer = L.Trainer(
        max_epochs=4,
        limit_train_batches=2,
        limit_val_batches=1,
        callbacks=[checkpoint, probe],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(_WorseEachEpoch())
    assert probe.seen == [(2, 2), (4, 4), (6, 6)]
    assert Path(checkpoint.best_model_path).name == "epoch=1-step=2.ckpt"  # 1-based epoch: the first
