"""Lightning callbacks of the recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from sepconv.curves import CURVES, write_curves

__all__ = ["LearningCurves", "ProbabilityWriter"]


class LearningCurves(L.Callback):
    """Collects ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` per epoch; at the end of ``fit``
    writes ``learning_curves.png`` and ``metrics.csv`` into the logger's directory.

    The history is part of the checkpoint, so a resumed run's files cover every epoch.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.paths: tuple[Path, Path] | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row = {k: float(metrics[k]) for k in CURVES if k in metrics}
        self.history.append({"epoch": float(trainer.current_epoch + 1), **row})

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.history:
            out = Path(trainer.log_dir or trainer.default_root_dir)
            self.paths = write_curves(self.history, out, title="sepconv (PyTorch Lightning)")

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))


class ProbabilityWriter(BasePredictionWriter):
    """Saves ``predict``'s class probabilities ``(N, 10)`` float32 as ``predictions.npy``.

    ``output_dir`` defaults to the trainer's ``default_root_dir``.
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = output_dir
        self.path: Path | None = None

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        probs = torch.cat(list(batches)).float().cpu().numpy()
        out = Path(self.output_dir or trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / "predictions.npy"
        np.save(self.path, probs)
