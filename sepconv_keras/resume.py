"""``sepconv-keras train --resume``: what Keras' ``BackupAndRestore`` does not bring back.

``BackupAndRestore`` restores the weights, the optimizer state and the epoch. :class:`RunHistory`
keeps the per-epoch metrics beside its backup, so that after a restart the learning curves cover
every epoch, ``ModelCheckpoint`` knows the best ``val_loss`` so far and ``EarlyStopping`` its
patience count. (The batches themselves are a function of (seed, epoch): see
:func:`sepconv_keras.data.train_stream`.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras

__all__ = ["RunHistory", "backed_up_epochs", "recover_backup"]

METADATA = "training_metadata.json"  # written by keras.callbacks.BackupAndRestore
WEIGHTS = "latest.weights.h5"
HISTORY = "history.json"


def recover_backup(backup_dir: Path) -> bool:
    """Fall back to the previous backup when a kill cut the latest one short; True if it did.

    ``BackupAndRestore(double_checkpoint=True)`` keeps the previous epoch's files as ``*.bkp``, but
    writes the latest in place. Keras falls back to them only once ``fit`` has started, after the
    training batches were already laid out from the (newer) epoch count, so the check is made here first.
    """
    import h5py

    weights = backup_dir / WEIGHTS
    if not weights.exists():
        return False
    try:
        with h5py.File(weights, "r"):
            return False
    except OSError:
        previous = backup_dir / f"{WEIGHTS}.bkp"
        if not previous.is_file():
            raise ValueError(
                f"--resume: {weights} is damaged and there is no previous backup beside it"
            ) from None
    os.replace(previous, weights)
    metadata, old_metadata = backup_dir / METADATA, backup_dir / f"{METADATA}.bkp"
    if old_metadata.is_file():
        os.replace(old_metadata, metadata)
    else:
        metadata.unlink(missing_ok=True)
    return True


def backed_up_epochs(backup_dir: Path) -> int:
    """Epochs completed by the interrupted run whose backup is in ``backup_dir`` (0: no backup)."""
    path = backup_dir / METADATA
    if not path.is_file():
        return 0
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"--resume: {path} is not a BackupAndRestore record ({e})") from e


class RunHistory(keras.callbacks.Callback):
    """Per-epoch logs, saved to ``backup_dir/history.json`` each epoch and restored on resume.

    Place it after ``ModelCheckpoint`` and ``EarlyStopping`` and before ``BackupAndRestore``.
    """

    def __init__(self, backup_dir: Path, restore: list[keras.callbacks.Callback], write: bool = True) -> None:
        super().__init__()
        self.backup_dir, self.restore, self.write = backup_dir, restore, write
        self.rows: list[dict[str, float]] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        done = backed_up_epochs(self.backup_dir)
        path = self.backup_dir / HISTORY
        self.rows = json.loads(path.read_text())[:done] if done and path.is_file() else []
        for epoch, row in enumerate(self.rows):
            for callback in self.restore:
                if isinstance(callback, keras.callbacks.EarlyStopping):
                    callback.on_epoch_end(epoch, row)
                elif isinstance(callback, keras.callbacks.ModelCheckpoint) and "val_loss" in row:
                    callback.best = min(row["val_loss"], callback.best or float("inf"))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.rows.append({k: float(v) for k, v in (logs or {}).items()})
        if self.write:
            self.backup_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.backup_dir / f".{HISTORY}.tmp"
            tmp.write_text(json.dumps(self.rows))
            os.replace(tmp, self.backup_dir / HISTORY)
