"""``sepconv-keras train --resume``: a backup written atomically, checked before it is trusted, and the
run history that Keras' ``BackupAndRestore`` does not bring back.

* :class:`AtomicBackupAndRestore` writes each epoch's backup under a private name, stamps the epoch
  into the file and renames it into place; the backup it replaces becomes ``latest.weights.h5.bkp``.
  The file also carries the model's random-seed states (a ``Dropout``'s ``SeedGenerator``, which
  ``save_weights`` leaves out), and a restore puts them back, so the dropout masks continue as they would.
  A kill or a full disk during a save leaves the previous backup whole.
* :func:`inspect_backup` reads every array of the backup (and of the ``.bkp`` before it) and compares
  the model's shapes with the model about to be trained; :func:`adopt_backup` puts the good one in
  place. A damaged latest backup falls back to the previous one; nothing usable is refused by name.
* :class:`RunHistory` keeps the per-epoch metrics beside the backup, so that after a restart the
  learning curves cover every epoch, ``ModelCheckpoint`` knows the best ``val_loss`` so far and
  ``EarlyStopping`` its patience count. (The batches themselves are a function of (seed, epoch): see
  :func:`sepconv_keras.data.train_stream`.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from sepconv.paths import commit, private_temp, write_text_atomic
from sepconv_keras.h5files import abandon_h5, full_disk

__all__ = [
    "AtomicBackupAndRestore",
    "BackupState",
    "RunHistory",
    "adopt_backup",
    "backed_up_epochs",
    "expected_layout",
    "has_backup",
    "inspect_backup",
    "optimizer_layout",
    "seed_states",
]

METADATA = "training_metadata.json"  # read by keras.callbacks.BackupAndRestore
WEIGHTS = "latest.weights.h5"
PREVIOUS = f"{WEIGHTS}.bkp"
HISTORY = "history.json"
EPOCH_ATTR = "sepconv_epoch"  # epochs completed, stamped into each backup's weights file
SEED_ATTR = "sepconv_seed_states"  # (n, 2): the SeedGenerator states (dropout masks), when the model has any
MODEL_GROUP = "layers/"  # the model's arrays in a .weights.h5; "optimizer/" holds the optimizer's


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore(double_checkpoint=True)`` whose every save is a private write then renames.

    The weights file carries the epoch count (``EPOCH_ATTR``), so it is the record of the backup;
    ``training_metadata.json`` is rewritten from it (atomically) for Keras.
    """

    def __init__(self, backup_dir: Path) -> None:
        super().__init__(str(backup_dir), double_checkpoint=True)

    def _save_model(self) -> None:
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        latest, temp = backup / WEIGHTS, private_temp(backup / WEIGHTS)
        try:
            self.model.save_weights(str(temp))
            with h5py.File(temp, "a") as f:
                f.attrs[EPOCH_ATTR] = self._current_epoch
                seeds = seed_states(self.model)
                if seeds:
                    f.attrs[SEED_ATTR] = np.stack([np.asarray(v.numpy()) for v in seeds])
            with open(temp, "rb") as written:
                os.fsync(written.fileno())
            if latest.exists():
                os.replace(latest, backup / PREVIOUS)
            os.replace(temp, latest)
        except BaseException as error:
            abandon_h5(temp)
            full_disk(latest, error)
            raise
        _write_metadata(backup, self._current_epoch)

    def _load_model(self) -> None:
        """Keras' restore (weights, optimizer, epoch), then the random-seed states that ``save_weights``
        leaves out (a backup without them, or of another count, leaves the model's own)."""
        super()._load_model()
        latest = Path(self.backup_dir) / WEIGHTS
        if not latest.exists():
            return
        with h5py.File(latest, "r") as f:
            saved = f.attrs.get(SEED_ATTR)
        seeds = seed_states(self.model)
        if saved is not None and len(saved) == len(seeds):
            for variable, value in zip(seeds, saved, strict=True):
                variable.assign(np.asarray(value, dtype=variable.dtype))


def seed_states(model: keras.Model) -> list[Any]:
    """The state variables of ``model``'s ``SeedGenerator``s (a ``Dropout``'s: where its masks come from),
    in model order: the variables Keras counts as the model's state but not as its weights, so that
    ``save_weights`` does not save them."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _write_metadata(backup: Path, epoch: int) -> None:
    write_text_atomic(backup / METADATA, json.dumps({"epoch": epoch, "batch": 0}))


def _layout(path: Path) -> dict[str, tuple[int, ...]]:
    """``{array path: shape}`` of a ``.weights.h5``, every array read in full (a cut file fails here)."""
    arrays: dict[str, tuple[int, ...]] = {}

    def read(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            item[()]
            arrays[name] = tuple(item.shape)

    with h5py.File(path, "r") as f:
        f.visititems(read)
    return arrays


def expected_layout(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """The arrays of a backup of ``model``, its own (``layers/...``) and its optimizer's (``optimizer/...``,
    built first, as ``BackupAndRestore`` builds it before loading)."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    with tempfile.TemporaryDirectory(prefix="sepconv-layout-") as folder:
        path = Path(folder) / "model.weights.h5"
        model.save_weights(str(path))
        return _layout(path)


def _problem(path: Path, expected: dict[str, tuple[int, ...]]) -> str | None:
    """Why the backup ``path`` cannot be trusted (an array unreadable, the model's arrays not as in
    ``expected``), or None. The optimizer's arrays are only read: another optimizer is not damage."""
    expected = {k: v for k, v in expected.items() if k.startswith(MODEL_GROUP)}
    try:
        found = _layout(path)
    except Exception as error:  # h5py raises OSError, KeyError, RuntimeError... on a cut file
        return f"unreadable ({' '.join(str(error).split()) or type(error).__name__})"
    model = {k: v for k, v in found.items() if k.startswith(MODEL_GROUP)}
    missing = sorted(expected.keys() - model.keys())
    if missing:
        return f"{len(missing)} of the model's {len(expected)} arrays missing (first: {missing[0]})"
    for name, shape in expected.items():
        if model[name] != shape:
            return f"{name} has shape {model[name]}, the model expects {shape}"
    if len(model) != len(expected):
        return f"{len(model) - len(expected)} arrays the model does not have"
    return None


def _stamped_epoch(path: Path, metadata: Path) -> int | None:
    """The epochs completed when ``path`` was saved: its stamp, else (older backups) ``metadata``'s."""
    with h5py.File(path, "r") as f:
        if EPOCH_ATTR in f.attrs:
            return int(f.attrs[EPOCH_ATTR])
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclasses.dataclass(frozen=True)
class BackupState:
    """What a backup folder holds: the good weights file (``source``) and its epoch, the problems of
    the files that were passed over; ``exists`` when any backup file is there at all."""

    folder: Path
    exists: bool
    source: Path | None = None
    epoch: int = 0
    problems: tuple[str, ...] = ()

    @property
    def fell_back(self) -> bool:
        return self.source is not None and self.source.name == PREVIOUS


def has_backup(backup_dir: Path) -> bool:
    """Whether ``backup_dir`` holds any file Keras' ``BackupAndRestore`` would restore from."""
    return any((backup_dir / name).exists() for name in (WEIGHTS, PREVIOUS, METADATA))


def optimizer_layout(path: Path) -> dict[str, tuple[int, ...]]:
    """``{array path: shape}`` of the optimizer state saved in the backup ``path``."""
    return {k: v for k, v in _layout(path).items() if k.startswith("optimizer/")}


def inspect_backup(backup_dir: Path, expected: dict[str, tuple[int, ...]]) -> BackupState:
    """Check ``latest.weights.h5``, then ``latest.weights.h5.bkp``, against ``expected``
    (:func:`expected_layout`); changes nothing."""
    files = [backup_dir / name for name in (WEIGHTS, PREVIOUS, METADATA)]
    if not has_backup(backup_dir):
        return BackupState(backup_dir, exists=False)
    problems = []
    for path, metadata in ((files[0], backup_dir / METADATA), (files[1], backup_dir / f"{METADATA}.bkp")):
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        problem = _problem(path, expected)
        epoch = _stamped_epoch(path, metadata) if problem is None else None
        if problem is None and not epoch:
            problem = "no record of the epoch it was saved at"
        if problem is None:
            return BackupState(backup_dir, True, path, epoch or 0, tuple(problems))
        problems.append(f"{path}: {problem}")
    return BackupState(backup_dir, True, None, 0, tuple(problems))


def adopt_backup(state: BackupState) -> None:
    """Make ``state.source`` the backup Keras restores (``latest.weights.h5``) with its epoch count."""
    if state.source is None:
        raise ValueError(f"{state.folder}: no usable backup to adopt")
    latest = state.folder / WEIGHTS
    if state.source != latest:
        temp = private_temp(latest)
        os.link(state.source, temp)  # keep the .bkp until the copy is in place
        commit(temp, latest)
    _write_metadata(state.folder, state.epoch)


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
            write_text_atomic(self.backup_dir / HISTORY, json.dumps(self.rows))
