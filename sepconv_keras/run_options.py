"""The options that shape a Keras run's trajectory, kept beside its backup and compared on ``--resume``.

A run resumed with another learning rate, optimizer, batch size or schedule than the one it was started
with is no longer the run it continues (and Keras silently drops an optimizer state that no longer
fits). :func:`conflicts` names each difference; ``sepconv-keras train --resume`` refuses them unless
``--override`` is given, and then says what changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sepconv.paths import write_text_atomic
from sepconv.recipes import Recipe

__all__ = ["RUN_FILE", "conflicts", "read_options", "run_options", "write_options"]

RUN_FILE = "run.json"

#: recipe field -> the option that sets it (command-line flag, else the recipe key)
LABELS = {
    "batch_size": "--batch-size",
    "lr": "--lr",
    "seed": "--seed",
    "epochs": "--epochs",
    "steps_per_epoch": "--steps-per-epoch",
    "optimizer": "model.optimizer",
    "momentum": "model.momentum",
    "nesterov": "model.nesterov",
    "muon_lr": "model.muon_lr",
    "muon_momentum": "model.muon_momentum",
    "schedule": "model.schedule",
    "warmup_epochs": "model.warmup_epochs",
    "label_smoothing": "model.label_smoothing",
    "augment": "data.augment",
}


def run_options(recipe: Recipe, steps_per_epoch: int) -> dict[str, Any]:
    """``{recipe field: value}`` for every option in :data:`LABELS` (``steps_per_epoch`` as run)."""
    options = {name: getattr(recipe, name) for name in LABELS if name != "steps_per_epoch"}
    return {**options, "steps_per_epoch": steps_per_epoch}


def conflicts(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"--lr 0.05 (the interrupted run: 0.01)"`` for each option that differs. ``--epochs`` counts only
    under a cosine schedule (it sets the decay length); with a constant rate a run may be lengthened."""
    found = []
    for name, label in LABELS.items():
        if name == "epochs" and "cosine" not in (saved.get("schedule"), current.get("schedule")):
            continue
        if name in saved and saved[name] != current.get(name):
            found.append(f"{label} {current.get(name)} (the interrupted run: {saved[name]})")
    return found


def read_options(backup_dir: Path) -> dict[str, Any] | None:
    """The options recorded in ``backup_dir``, or None if none were (or the record is unreadable)."""
    try:
        record = json.loads((backup_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_options(backup_dir: Path, options: dict[str, Any]) -> None:
    backup_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(backup_dir / RUN_FILE, json.dumps(options, indent=1))
