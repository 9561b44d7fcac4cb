"""Recipe edges both frameworks meet: YAML alias bombs, empty and null sections, options outside the rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from commands import assert_refused, run

from sepconv import recipes
from sepconv.recipes import RecipeError, check_lightning_config, load_recipe, read_yaml


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def alias_bomb(levels: int = 10) -> str:
    """``levels`` anchors, each a list of nine aliases of the one before: 9**levels leaves in ~700 bytes."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nmodel:\n  lr: *a{levels - 1}\n"


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    path = write(tmp_path, alias_bomb())
    with pytest.raises(RecipeError, match=r"r\.yaml: its aliases expand to more than 100,000 values"):
        read_yaml(path)


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "model: &m\n  lr: 0.1\n  again: *m\n")
    with pytest.raises(RecipeError, match=r"r\.yaml: an alias refers to a node that contains it"):
        read_yaml(path)


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n  lr: &lr 0.05\n  muon_lr: *lr\n")
    assert read_yaml(path) == {"model": {"lr": 0.05, "muon_lr": 0.05}}
    assert load_recipe(path).muon_lr == 0.05


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_recipe_is_refused_by_both_readers(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    for read in (load_recipe, check_lightning_config):
        with pytest.raises(RecipeError, match=r"r\.yaml: empty; a recipe is a mapping with keys among"):
            read(path)


@pytest.mark.parametrize("section", ["trainer", "model", "data"])
def test_a_null_section_is_refused_by_both_readers(tmp_path: Path, section: str) -> None:
    path = write(tmp_path, f"{section}: null\n")
    message = rf"r\.yaml: {section} must be a mapping, received {section}: null \(leave it out"
    for read in (load_recipe, check_lightning_config):
        with pytest.raises(RecipeError, match=message):
            read(path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"trainer": {"max_epochs": 0}},
            "--trainer.max_epochs must be >= 1, received --trainer.max_epochs=0",
        ),
        (
            {"trainer": {"max_epochs": -1}},
            "--trainer.max_epochs must be >= 1, received --trainer.max_epochs=-1",
        ),
        ({"data": {"batch_size": 0}}, "--data.batch_size must be in [1, 55000]"),
        ({"model": {"lr": -1.0}}, "--model.lr must be positive, received --model.lr=-1.0"),
    ],
)
def test_parsed_options_follow_the_recipe_rules(config: dict, message: str) -> None:
    with pytest.raises(RecipeError) as refused:
        recipes.check_options({"seed_everything": 42, "ckpt_path": None, **config})
    assert str(refused.value).startswith(message)


def test_parsed_options_other_than_recipe_keys_pass() -> None:
    recipes.check_options(
        {
            "seed_everything": True,
            "trainer": {"max_epochs": 3, "precision": "64", "callbacks": None},
            "model": {"lr": 0.1, "net": None},
            "data": {"batch_size": 64, "data_dir": None},
        }
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "text", "message"),
    [
        ("alias bomb", alias_bomb(), "bomb.yaml: its aliases expand to more than 100,000 values"),
        ("empty", "", "bomb.yaml: empty; a recipe is a mapping with keys among"),
        ("null model", "model: null\n", "bomb.yaml: model must be a mapping, received model: null"),
    ],
)
@pytest.mark.parametrize("prog", ["sepconv-torch", "sepconv-keras"])
def test_both_commands_refuse_the_recipe_in_one_line(
    tmp_path: Path, prog: str, case: str, text: str, message: str
) -> None:
    path = write(tmp_path, text, "bomb.yaml")
    if prog == "sepconv-torch":
        args = ["fit", "--config", path, "--trainer.default_root_dir", tmp_path / "runs"]
    else:
        args = ["train", "--recipe", path, "--output-dir", tmp_path / "out", "--verbose", "0"]
    assert_refused(run(prog, *args), prog, message)  # (a hang ends in run's timeout)


@pytest.mark.slow
@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_torch_refuses_max_epochs_the_recipes_refuse(tmp_path: Path, epochs: str) -> None:
    args = ["fit", "--trainer.max_epochs", epochs, "--trainer.default_root_dir", tmp_path / "runs"]
    message = f"--trainer.max_epochs must be >= 1, received --trainer.max_epochs={epochs}"
    assert_refused(run("sepconv-torch", *args), "sepconv-torch", message)
    assert not (tmp_path / "runs").exists()
