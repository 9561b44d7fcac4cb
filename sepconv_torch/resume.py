"""Resuming ``sepconv-torch fit`` from a checkpoint: its run folder, its recipe, and its best checkpoint.

* :func:`run_dir`: the run a checkpoint belongs to (``version_0`` for ``version_0/checkpoints/x.ckpt``).
  A resumed fit continues there (logs, curves, checkpoints); ``test`` writes ``test_metrics.json`` there.
* :func:`option_conflicts`: the training options given now that differ from those the checkpoint was
  trained with (:data:`MODEL_OPTIONS`, :data:`DATA_OPTIONS`, and the cosine schedule's length), as records.
* :class:`RunCheckpoint`: ``ModelCheckpoint`` whose state a resumed fit takes over whole, so ``best`` stays
  the checkpoint with the lowest ``val_loss`` over all epochs, before and after the interruption; under
  DDP it also keeps every rank's random state (:mod:`sepconv_torch.rng`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from sepconv_torch.rng import gather_rank_states, restore_rank_state

__all__ = [
    "DATA_OPTIONS",
    "MAX_EPOCHS_KEY",
    "MODEL_OPTIONS",
    "Conflict",
    "RunCheckpoint",
    "option_conflicts",
    "run_dir",
]

#: ``model.*`` options of the training recipe, stored in a checkpoint's ``hyper_parameters``
MODEL_OPTIONS: tuple[str, ...] = (
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "muon_lr",
    "muon_momentum",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "initializer",
)
#: ``data.*`` options of the training recipe, stored in ``datamodule_hyper_parameters``
DATA_OPTIONS: tuple[str, ...] = ("batch_size", "augment", "seed")
#: checkpoint entry holding ``trainer.max_epochs``, the length of a cosine schedule
MAX_EPOCHS_KEY = "sepconv_max_epochs"


def run_dir(ckpt: str | Path) -> Path:
    """The folder of the run ``ckpt`` belongs to: the parent of its ``checkpoints/`` folder, else its own."""
    ckpt = Path(ckpt)
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


@dataclass(frozen=True)
class Conflict:
    """An option whose value given now differs from the checkpoint's."""

    option: str
    checkpoint: Any
    given: Any

    def __str__(self) -> str:
        return f"{self.option}: checkpoint {self.checkpoint}, given {self.given}"


def _applies(key: str, saved: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether ``key`` matters to either run (Muon rates with Muon, a warm-up with a schedule)."""
    if key.startswith("muon_"):
        return "muon" in (saved.get("optimizer"), given.get("optimizer"))
    if key == "warmup_epochs":
        return any(v not in (None, "constant") for v in (saved.get("schedule"), given.get("schedule")))
    return True


def option_conflicts(
    checkpoint: Mapping[str, Any], model: Mapping[str, Any], data: Mapping[str, Any], max_epochs: int | None
) -> list[Conflict]:
    """Recipe options of ``model`` / ``data`` / ``max_epochs`` (given now) that differ from ``checkpoint``'s.

    Options the checkpoint does not record are not compared; ``trainer.max_epochs`` only under a cosine
    schedule (it sets the schedule's length).
    """
    found: list[Conflict] = []
    saved_model = checkpoint.get("hyper_parameters") or {}
    for key in MODEL_OPTIONS:
        if (
            key in saved_model
            and key in model
            and _applies(key, saved_model, model)
            and (saved_model[key] != model[key])
        ):
            found.append(Conflict(f"model.{key}", saved_model[key], model[key]))
    saved_data = checkpoint.get("datamodule_hyper_parameters") or {}
    for key in DATA_OPTIONS:
        if key in saved_data and key in data and saved_data[key] != data[key]:
            found.append(Conflict(f"data.{key}", saved_data[key], data[key]))
    saved_epochs = checkpoint.get(MAX_EPOCHS_KEY)
    cosine = "cosine" in (saved_model.get("schedule"), model.get("schedule"))
    if cosine and saved_epochs is not None and max_epochs is not None and saved_epochs != max_epochs:
        found.append(Conflict("trainer.max_epochs", saved_epochs, max_epochs))
    return found


def _same_dir(a: str | Path | None, b: str | Path | None) -> bool:
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint``; a resumed fit takes over its whole state, and epochs count from 1.

    * ``fit`` from a checkpoint: best score, best and last paths come back. When the run folder was
      moved, the recorded files are found by name in the new folder; a recorded best that exists
      nowhere any more is dropped (then the best is chosen among the epochs still on disk and to come).
    * ``test``, ``validate``, ``predict``: the state is not loaded (they save no checkpoint).
    * ``last.ckpt`` is rewritten after every epoch, the best or not (Lightning's skips epochs that kept no
      top-k checkpoint).
    * Under DDP, checkpoints of a described network hold every rank's CPU random state, and a resumed
      fit gives each rank its own (:mod:`sepconv_torch.rng`): the dropout masks continue as they would.
    * ``{epoch}`` in ``filename`` is the 1-based epoch (``best-epoch=01-...`` after the first epoch), as
      in ``metrics.csv``, the progress bar and the learning curves.

    Checkpoints store its state under ``ModelCheckpoint{...}``, the key of Lightning's own class.
    """

    _stage: str | None = None
    #: the checkpoint the fit resumes from (set by the CLI): files beside it are this run's own
    resume_from: str | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        with warnings.catch_warnings():
            if self.resume_from is not None:  # continuing the run whose checkpoints these are
                warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty")
            super().setup(trainer, pl_module, stage)
        self._stage = stage

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._keep_last_current(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._keep_last_current(trainer)

    def _keep_last_current(self, trainer: L.Trainer) -> None:
        """Rewrite ``last.ckpt`` for this step if Lightning did not: it does so only in a step that also
        kept a top-k checkpoint, which left ``last.ckpt`` at an older epoch after an epoch that was not the
        best (a resume then trained that epoch again). Skipped where Lightning skips any save (sanity
        check, ``fast_dev_run``, a step saved already)."""
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        gather_rank_states(trainer, pl_module, checkpoint)

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        restore_rank_state(trainer, pl_module, checkpoint)  # fit only, after the module's own restore

    def _generate_state_key(self, **kwargs: Any) -> str:
        return f"ModelCheckpoint{kwargs!r}"  # readable by (and from) a plain ModelCheckpoint

    def _monitor_candidates(self, trainer: L.Trainer) -> dict[str, torch.Tensor]:
        candidates = super()._monitor_candidates(trainer)
        if "epoch" not in trainer.callback_metrics:  # a module that logs its own ``epoch`` keeps it
            candidates["epoch"] = torch.tensor(trainer.current_epoch + 1)
        return candidates

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self._stage != "fit":
            return
        saved = state_dict.get("dirpath")
        if saved is not None and self.dirpath is not None and str(saved) != str(self.dirpath):
            state_dict = self._moved(state_dict, Path(self.dirpath))
        super().load_state_dict(state_dict)

    def _moved(self, state: dict[str, Any], here: Path) -> dict[str, Any]:
        """``state`` with its paths found in ``here`` (by name) or where recorded; missing files dropped."""
        if _same_dir(state["dirpath"], here):
            return {**state, "dirpath": self.dirpath}

        def locate(path: str | None) -> str:
            if not path:
                return ""
            moved = here / Path(path).name
            return str(moved) if moved.is_file() else (path if Path(path).is_file() else "")

        scores = {locate(p): s for p, s in (state.get("best_k_models") or {}).items()}
        scores.pop("", None)
        better = min if self.mode == "min" else max
        worse = max if self.mode == "min" else min
        best = better(scores, key=lambda p: float(scores[p])) if scores else ""
        kth = worse(scores, key=lambda p: float(scores[p])) if scores else ""
        best_path = locate(state.get("best_model_path")) or best
        return {
            **state,
            "dirpath": self.dirpath,
            "best_k_models": scores,
            "best_model_path": best_path,
            "best_model_score": scores.get(best_path, state.get("best_model_score") if best_path else None),
            "kth_best_model_path": kth,
            "kth_value": scores[kth] if kth else torch.tensor(math.inf if self.mode == "min" else -math.inf),
            "last_model_path": locate(state.get("last_model_path")),
        }
