"""Lightning callbacks of the recipes."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn

from sepconv.curves import CURVES, write_curves
from sepconv.errors import TrainingError
from sepconv.predictions import write_predictions

__all__ = ["LearningCurves", "ProbabilityWriter"]

TITLE = "sepconv (PyTorch Lightning)"


class LearningCurves(L.Callback):
    """Collects ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` per epoch (1-based); at the end of
    ``fit``, and when a fit stops early (a signal, an error), writes ``learning_curves.png`` and
    ``metrics.csv`` of the finished epochs into the logger's directory (the run folder ``version_N``).

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
        # ``trainer.log_dir`` is a broadcast from rank 0 under DDP: every rank must ask for it, or rank 0
        # waits on ranks that have already left (gloo: "Connection closed by peer").
        out = Path(trainer.log_dir or trainer.default_root_dir)
        if trainer.is_global_zero and self.history:
            self.paths = write_curves(self.history, out, title=TITLE)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        """Write the finished epochs' curves (no collective call: the other ranks may be gone)."""
        if trainer.state.fn != TrainerFn.FITTING or not trainer.is_global_zero or not self.history:
            return
        with contextlib.suppress(OSError):  # e.g. the disk is full: the error being raised says so
            self.paths = write_curves(self.history, _log_dir(trainer), title=TITLE)

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))


def _log_dir(trainer: L.Trainer) -> Path:
    """``trainer.log_dir`` as rank 0 knows it, without its broadcast to the other ranks."""
    logger = trainer.loggers[0] if trainer.loggers else None
    if isinstance(logger, (TensorBoardLogger, CSVLogger)):
        return Path(logger.log_dir)
    if logger is not None and logger.save_dir is not None:
        return Path(logger.save_dir)
    return Path(trainer.default_root_dir)


def _labels(trainer: L.Trainer, count: int) -> np.ndarray | None:
    """The true labels of the predicted rows, when the datamodule knows them for every row."""
    predict_labels = getattr(trainer.datamodule, "predict_labels", None)
    labels = predict_labels() if callable(predict_labels) else None
    return labels if labels is not None and len(labels) == count else None


def _files(trainer: L.Trainer, count: int) -> list[str] | None:
    files = getattr(trainer.datamodule, "predict_files", None)
    return [str(f) for f in files] if files is not None and len(files) == count else None


class ProbabilityWriter(BasePredictionWriter):
    """Saves ``predict``'s class probabilities ``(N, 10)`` float32 as ``predictions.npy``, in dataset order,
    and the same as ``predictions.csv`` with class names and the true label where the data set has one.

    Each rank keeps its batches with their dataset indices; at the end, rank 0 gathers all ranks'
    parts and writes row ``i`` for sample ``i`` (under DDP every sample is predicted exactly once).
    ``output_dir`` defaults to the trainer's ``default_root_dir``. The two files are written together at
    the end of the run (:func:`sepconv.predictions.write_predictions`); probabilities holding NaN or Inf
    stop the run with a :class:`~sepconv.errors.TrainingError` instead, and a failed run leaves the
    previous files as they were.
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self.path: Path | None = None
        self.csv_path: Path | None = None
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def on_predict_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parts = []

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        probs = prediction.float().cpu().numpy()
        self._parts.append((np.asarray(batch_indices, dtype=np.int64), probs))

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        parts = self._parts
        if trainer.world_size > 1:
            gathered: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(gathered, parts)
            parts = [part for rank_parts in gathered for part in rank_parts]
        self._parts = []
        if not parts:
            return
        probs = np.concatenate([p for _, p in parts])
        bad = int(np.count_nonzero(~np.isfinite(probs).all(axis=1)))
        if bad:  # every rank holds the gathered rows: all stop together
            raise TrainingError(
                f"predict: {bad} of {len(probs)} rows of probabilities hold NaN or Inf (the network "
                "overflows on them); nothing written"
            )
        if not trainer.is_global_zero:
            return
        indices = np.concatenate([i for i, _ in parts])
        if len(np.unique(indices)) != len(indices):
            raise RuntimeError(f"predict: {len(indices)} rows but {len(np.unique(indices))} distinct samples")
        ordered = probs[np.argsort(indices, kind="stable")]
        labels, files = _labels(trainer, len(ordered)), _files(trainer, len(ordered))
        out = Path(self.output_dir or trainer.default_root_dir)
        self.path, self.csv_path = write_predictions(out, ordered, labels, files)
