"""Training recipes: YAML files in LightningCLI's config format, read by both frameworks.

``sepconv-torch fit --config sepconv/recipes/<name>.yaml`` reads them as any
LightningCLI config; ``sepconv-keras train --recipe <name>`` reads the same
keys through :func:`load_recipe`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["RECIPES_DIR", "Recipe", "load_recipe", "recipe_path"]

RECIPES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Recipe:
    """What a recipe fixes, with the reference values as defaults."""

    seed: int = 42
    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    initializer: str = "glorot_uniform"
    augment: bool = False


#: PyTorch-only settings that do not change the recipe (memory layout); the Keras side ignores them.
TORCH_ONLY: dict[str, set[str]] = {
    "model": {"channels_last"},
    "data": {"eval_batch_size", "num_workers", "data_dir", "download", "seed"},
}

# (section, key in the YAML) -> Recipe field
_KEYS: dict[tuple[str, str], str] = {
    ("", "seed_everything"): "seed",
    ("trainer", "max_epochs"): "epochs",
    ("data", "batch_size"): "batch_size",
    ("data", "augment"): "augment",
    **{
        ("model", f.name): f.name
        for f in dataclasses.fields(Recipe)
        if f.name in {"lr", "momentum", "nesterov", "schedule", "warmup_epochs", "initializer"}
    },
}


def recipe_path(name_or_path: str | Path) -> Path:
    """``reference`` / ``tuned`` -> the packaged YAML; anything else is taken as a path."""
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    path = candidate if candidate.is_file() else Path(name_or_path)
    if not path.is_file():
        names = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"recipe {str(name_or_path)!r}: not one of {names} and no such file")
    return path


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Read a recipe YAML; unknown keys under ``model``/``data`` raise, naming the file and key."""
    path = recipe_path(name_or_path)
    config: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    values: dict[str, Any] = {}
    for (section, key), field in _KEYS.items():
        node = config if section == "" else (config.get(section) or {})
        if key in node:
            values[field] = node[key]
    for section in ("model", "data"):
        known = {k for s, k in _KEYS if s == section}
        unknown = set(config.get(section) or {}) - known - TORCH_ONLY[section]
        if unknown:
            raise ValueError(
                f"{path}: unknown {section} keys {sorted(unknown)}, expected some of {sorted(known)}"
            )
    return Recipe(**values)
