"""The options that shape a Keras run's trajectory, kept beside its backup and compared on ``--resume``.

A run resumed with another learning rate, optimizer, batch size or schedule than the one it was started
with is no longer the run it continues (and Keras silently drops an optimizer state that no longer
fits). :func:`conflicts` names each difference; ``sepconv-keras train --resume`` refuses them unless
``--override`` is given, and then says what changed.

The record also holds the network (:func:`architecture_record`: ``None`` for the built-in reference
model, else the description's name, the ``--architecture`` value and the whole description). A resume
without ``--architecture`` trains the recorded network; one with another network is refused
(:func:`architecture_refusal`), ``--override`` or not: the backed-up weights would not fit it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sepconv.arch import Architecture, to_dict
from sepconv.paths import write_text_atomic
from sepconv.recipes import Recipe

__all__ = [
    "ARCHITECTURE",
    "RUN_FILE",
    "architecture_record",
    "architecture_refusal",
    "conflicts",
    "read_options",
    "run_options",
    "write_options",
]

RUN_FILE = "run.json"
#: the record's key for the network (:func:`architecture_record`); a record without it predates it
ARCHITECTURE = "architecture"

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


def architecture_record(description: Architecture | None, source: str | None) -> dict[str, Any] | None:
    """The network as ``run.json`` records it: ``None`` for the built-in reference model (no
    ``--architecture``), else ``{"name", "source" (the --architecture value), "description"}`` with the
    description as JSON data (:func:`sepconv.arch.to_dict`), enough to build it again without the file."""
    if description is None:
        return None
    data = json.loads(json.dumps(to_dict(description)))  # tuples as lists, as read back
    return {"name": description.name, "source": source or description.name, "description": data}


def _network(record: dict[str, Any] | None) -> str:
    if record is None:
        return "the built-in reference network (no --architecture)"
    name, source = record.get("name"), record.get("source")
    return f"network {name!r}" + ("" if source in (None, name) else f" from {source}")


def architecture_refusal(recorded: dict[str, Any] | None, given: dict[str, Any] | None) -> str | None:
    """Why a resume with the network ``given`` (an :func:`architecture_record`) cannot continue the run
    that recorded ``recorded``, in one line naming both; ``None`` when they are the same network."""
    if (recorded is None) == (given is None) and (
        recorded is None or given is None or recorded.get("description") == given["description"]
    ):
        return None
    same_name = recorded is not None and given is not None and recorded.get("name") == given["name"]
    return (
        f"--architecture: {_network(given)} is not the network of the interrupted run, "
        f"{_network(recorded)}{' (another description under the same name)' if same_name else ''}; "
        "its backed-up weights would not fit (--override cannot change the network): resume without "
        "--architecture to continue it, or delete the directory to start again"
    )


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
