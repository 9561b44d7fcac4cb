"""A test callback for DDP runs: each rank draws from its own CPU random stream (``1000 + rank``) from the
start of a fresh fit, so the ranks' dropout masks differ; a resumed fit keeps the states it restored.

(``sepconv-torch fit`` seeds every rank alike, so its ranks' streams are equal; this gives the per-rank
random states in a checkpoint something to tell apart.)
Use: ``--trainer.callbacks+=tests.rank_streams.RankStreams``.
"""

from __future__ import annotations

import lightning as L
import torch

__all__ = ["RankStreams"]


class RankStreams(L.Callback):
    """Seed the CPU generator with ``1000 + rank`` when a fit starts afresh (not when it resumes)."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.ckpt_path is None:
            torch.manual_seed(1000 + trainer.global_rank)
