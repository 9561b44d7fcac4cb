"""Recipes, LR schedules and learning-curve files: the framework-neutral training pieces."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from sepconv.curves import write_curves
from sepconv.recipes import Recipe, load_recipe
from sepconv.schedule import lr_factor


def test_reference_recipe_is_the_tutorials() -> None:
    assert load_recipe("reference") == Recipe(
        seed=42, epochs=10, batch_size=32, lr=0.01, momentum=0.0, nesterov=False,
        schedule="constant", warmup_epochs=0.0, initializer="glorot_uniform", augment=False,
    )  # fmt: skip


def test_tuned_recipe_keeps_the_budget() -> None:
    recipe = load_recipe("tuned")
    assert recipe.epochs <= 10


def test_unknown_key_named(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("model:\n  lr: 0.1\n  dropout: 0.5\n")
    with pytest.raises(ValueError, match=r"r\.yaml: unknown model keys \['dropout'\]"):
        load_recipe(path)


def test_missing_recipe_named() -> None:
    with pytest.raises(FileNotFoundError, match=r"recipe 'fast': not one of \['reference', 'tuned'\]"):
        load_recipe("fast")


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.0), (50, 0.5), (100, 1.0), (550, 0.5), (1000, 0.0), (2000, 0.0)],
)
def test_cosine_warmup(step: int, expected: float) -> None:
    assert math.isclose(lr_factor(step, "cosine", 1000, 100), expected, abs_tol=1e-12)


def test_constant_and_bad_schedule() -> None:
    assert lr_factor(123, "constant", 10) == 1.0
    with pytest.raises(ValueError, match="schedule must be one of"):
        lr_factor(0, "step", 10)
    with pytest.raises(ValueError, match="total_steps"):
        lr_factor(0, "cosine", 10, 10)


def test_curves_files(tmp_path: Path) -> None:
    history = [
        {"loss": 2.3, "accuracy": 0.1, "val_loss": 2.2, "val_accuracy": 0.2},
        {"loss": 0.6, "accuracy": 0.8, "val_loss": 0.5, "val_accuracy": 0.82, "lr": 0.01},
    ]
    png, csv_path = write_curves(history, tmp_path / "out")
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert rows[1][:2] == ["1", "2.300000"] and rows[1][-1] == "" and rows[2][-1] == "0.010000"
    assert not list((tmp_path / "out").glob("*.part"))
