"""Recipes, LR schedules and learning-curve files: the framework-neutral training pieces."""

from __future__ import annotations

import ast
import csv
import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sepconv.curves import write_curves
from sepconv.recipes import (
    SECTIONS,
    Recipe,
    RecipeError,
    check_lightning_config,
    load_recipe,
    parse_recipe,
    recipe_path,
    recipe_rules,
)
from sepconv.schedule import lr_factor

ROOT = Path(__file__).resolve().parents[1]


def test_reference_recipe_is_the_tutorials() -> None:
    assert load_recipe("reference") == Recipe(
        seed=42, epochs=10, batch_size=32, lr=0.01, momentum=0.0, nesterov=False,
        schedule="constant", warmup_epochs=0.0, initializer="glorot_uniform", augment=False,
    )  # fmt: skip


def test_tuned_recipe_keeps_the_budget() -> None:
    recipe = load_recipe("tuned")
    assert recipe.epochs <= 10


def test_fast_recipe_is_a_shorter_tuned() -> None:
    """``fast`` trains like ``tuned`` (same init and schedule) in fewer, larger steps."""
    fast, tuned = load_recipe("fast"), load_recipe("tuned")
    assert fast.epochs < tuned.epochs and fast.batch_size > tuned.batch_size
    assert fast.initializer == tuned.initializer and fast.schedule == tuned.schedule


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n- 2\n", r"r\.yaml: the top level must be a mapping .* received a list"),
        ("just text\n", r"r\.yaml: the top level must be a mapping .* received a str"),
        ("model: [1, 2]\n", r"r\.yaml: model must be a mapping, received model=\[1, 2\]"),
        ("model: {lr: 0.1\n", r"r\.yaml: not valid YAML"),
        ("optimizer: sgd\n", r"r\.yaml: unknown top-level key 'optimizer', expected one of \('seed_"),
        ("trainer:\n  max_epoch: 3\n", r"r\.yaml: unknown trainer key 'trainer\.max_epoch', expected one of"),
        ("trainer:\n  gradient_clip_val: 1\n", r"unknown trainer key 'trainer\.gradient_clip_val'"),
        ("model:\n  lr: 0.1\n  dropout: 0.5\n", r"r\.yaml: unknown model key 'model\.dropout'"),
        ("data:\n  batchsize: 64\n", r"r\.yaml: unknown data key 'data\.batchsize'"),
        # types
        ("trainer: {max_epochs: 10.5}", r"an integer, received trainer\.max_epochs=10\.5 \(float"),
        ("trainer: {max_epochs: '10'}", r"an integer, received trainer\.max_epochs='10' \(str"),
        ("data: {batch_size: true}", r"batch_size must be an integer, received data\.batch_size=True \(bool"),
        ("model: {nesterov: 1}", r"nesterov must be true or false, received model\.nesterov=1 \(int"),
        ("model: {nesterov: 'yes please'}", r"model\.nesterov must be true or false"),
        ("model: {lr: fast}", r"model\.lr must be a finite number, received model\.lr='fast' \(str\)"),
        ("model: {lr: true}", r"model\.lr must be a finite number, received model\.lr=True \(bool\)"),
        ("model: {lr: .nan}", r"model\.lr must be a finite number, received model\.lr=nan"),
        ("model: {schedule: 3}", r"model\.schedule must be a string, received model\.schedule=3 \(int\)"),
        ("seed_everything: 4.2", r"seed_everything must be an integer, received seed_everything=4\.2"),
        ("data: {data_dir: 7}", r"data_dir must be a string or null, received data\.data_dir=7 \(int"),
        # ranges
        ("trainer: {max_epochs: 0}", r"trainer\.max_epochs must be >= 1, received trainer\.max_epochs=0"),
        (
            "data: {batch_size: 0}",
            r"data\.batch_size must be in \[1, 55000\] \(the training split's size\), "
            r"received data\.batch_size=0",
        ),
        ("data: {batch_size: 55001}", r"batch_size must be in \[1, 55000\].*received data\.batch_size=55001"),
        ("model: {lr: 0}", r"model\.lr must be positive, received model\.lr=0\.0"),
        ("model: {lr: -0.1}", r"model\.lr must be positive"),
        ("model: {momentum: 1.0}", r"model\.momentum must be in \[0, 1\), received model\.momentum=1\.0"),
        ("model: {momentum: -0.5}", r"model\.momentum must be in \[0, 1\)"),
        ("model: {warmup_epochs: -1}", r"warmup_epochs must be >= 0, received model\.warmup_epochs=-1\.0"),
        ("model: {warmup_epochs: 10}", r"model\.warmup_epochs must be < trainer\.max_epochs \(10\)"),
        ("trainer: {max_epochs: 2}\nmodel: {warmup_epochs: 2.5}", r"must be < trainer\.max_epochs \(2\)"),
        ("data: {num_workers: -1}", r"data\.num_workers must be >= 0"),
        ("model: {channels_last: 'no'}", r"model\.channels_last must be true or false"),
        ("model: {pool_before_activation: 1}", r"model\.pool_before_activation must be true or false"),
        ("model: {split_conv_backward: yes please}", r"model\.split_conv_backward must be true or false"),
        # choices
        ("model: {schedule: cosin}", r"one of 'constant', 'cosine', received model\.schedule='cosin'"),
        ("model: {initializer: he_normal}", r"initializer must be one of 'glorot_uniform', 'lecun_normal'"),
    ],
)  # fmt: skip
def test_bad_recipes_are_refused_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(write(tmp_path, text))
    assert str(info.value).startswith(f"{tmp_path / 'r.yaml'}: ") and "\n" not in str(info.value)


def test_recipe_values_are_normalised(tmp_path: Path) -> None:
    """An int where a float is expected is widened; PyYAML's string ``1e-3`` is read as LightningCLI does."""
    recipe = load_recipe(
        write(tmp_path, "model: {lr: 1e-3, momentum: 0, warmup_epochs: 1}\ndata: {num_workers: 2}")
    )
    assert (recipe.lr, recipe.momentum, recipe.warmup_epochs) == (0.001, 0.0, 1.0)
    assert isinstance(recipe.momentum, float)


def test_recipe_checks_every_construction() -> None:
    """Options applied over a recipe go through the same checks (``dataclasses.replace``)."""
    tuned = load_recipe("tuned")
    with pytest.raises(RecipeError, match=r"model\.warmup_epochs must be < trainer\.max_epochs \(1\)"):
        dataclasses.replace(tuned, epochs=1)
    with pytest.raises(RecipeError, match=r"model\.lr must be positive, received model\.lr=-1\.0"):
        Recipe(lr=-1)


def test_every_key_has_one_rule() -> None:
    """The table drives everything: each Recipe field has a rule, each rule lives in a known section."""
    rules = recipe_rules()
    assert {field for _, field in rules.values() if field} == {f.name for f in dataclasses.fields(Recipe)}
    assert all(rule.name.split(".")[0] in SECTIONS for rule, _ in rules.values())
    for name in ("reference", "tuned", "fast"):  # the packaged recipes use only known keys
        parse_recipe(yaml.safe_load(recipe_path(name).read_text()))


def test_lightning_config_checks_recipe_keys_only(tmp_path: Path) -> None:
    """A LightningCLI config may hold any Trainer option; the recipe keys in it are still checked."""
    check_lightning_config(
        write(tmp_path, "seed_everything: true\ntrainer: {precision: 64, max_epochs: 3}\nckpt_path: null")
    )
    with pytest.raises(
        RecipeError, match=r"r\.yaml: model\.schedule must be one of .* received model\.schedule='cosin'"
    ):
        check_lightning_config(write(tmp_path, "trainer: {precision: 64}\nmodel: {schedule: cosin}"))
    with pytest.raises(RecipeError, match=r"r\.yaml: the top level must be a mapping"):
        check_lightning_config(write(tmp_path, "[1]"))


def test_checks_hold_under_python_O(tmp_path: Path) -> None:
    """No ``assert`` does the checking: a bad recipe is refused under ``python -O`` too."""
    path = write(tmp_path, "model: {lr: 0}")
    code = f"from sepconv.recipes import load_recipe; load_recipe({str(path)!r})"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-O", "-c", code]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert (
        proc.returncode == 1 and "RecipeError" in proc.stderr and "model.lr must be positive" in proc.stderr
    )


def test_no_assert_statements_in_the_packages() -> None:
    """``assert`` vanishes under ``python -O``; our packages validate with exceptions only."""
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in ("sepconv", "sepconv_torch", "sepconv_keras")
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []


def test_missing_recipe_named() -> None:
    expected = r"recipe 'fastest': not one of \['fast', 'reference', 'tuned'\]"
    with pytest.raises(FileNotFoundError, match=expected):
        load_recipe("fastest")


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
