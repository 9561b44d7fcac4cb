"""``sepconv.errors.run_main``: one line per failure, exit status by kind, ``--debug`` for the traceback."""

from __future__ import annotations

import pytest

from sepconv.data import FashionMNISTError
from sepconv.errors import InputError, TrainingError, run_main
from sepconv.recipes import RecipeError


def fail(error: BaseException):
    def main() -> None:
        raise error

    return main


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (
            InputError("r.yaml: model.lr must be positive"),
            2,
            "prog: error: r.yaml: model.lr must be positive",
        ),
        (RecipeError("a\n  b"), 2, "prog: error: a b"),
        (
            FashionMNISTError("/d/x.gz: not a valid gzip file"),
            2,
            "prog: error: /d/x.gz: not a valid gzip file",
        ),
        (FileNotFoundError("no such file"), 2, "prog: error: no such file"),
        (KeyError("state_dict"), 2, "prog: error: missing key 'state_dict'"),
        (TrainingError("training diverged at epoch 3"), 1, "prog: error: training diverged at epoch 3"),
        (ZeroDivisionError("oops"), 3, "prog: internal error: ZeroDivisionError: oops (rerun with --debug"),
        (KeyboardInterrupt(), 130, "prog: interrupted"),
    ],
)
def test_one_line_and_status(capsys, error: BaseException, status: int, line: str) -> None:
    assert run_main("prog", fail(error), argv=[]) == status
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err


def test_success_and_explicit_status() -> None:
    assert run_main("prog", lambda: None, argv=[]) == 0
    assert run_main("prog", lambda: 4, argv=[]) == 4


@pytest.mark.parametrize(
    ("error", "status"),
    [(InputError("x"), 2), (TrainingError("x"), 1), (ZeroDivisionError("x"), 3), (KeyboardInterrupt(), 130)],
)
@pytest.mark.parametrize("how", ["--debug", "debug=True", "SEPCONV_DEBUG=1"])
def test_debug_prints_the_traceback_and_keeps_the_status(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    status: int,
    how: str,
) -> None:
    argv, debug = (
        (["train", "--debug"], None) if how == "--debug" else ([], True if how == "debug=True" else None)
    )
    if how == "SEPCONV_DEBUG=1":
        monkeypatch.setenv("SEPCONV_DEBUG", "1")
    assert run_main("prog", fail(error), argv=argv, debug=debug) == status
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and f"{type(error).__name__}" in err
    assert err.splitlines()[-1].startswith("prog: ")  # the same one line last


def test_system_exit_passes_through() -> None:
    with pytest.raises(SystemExit):
        run_main("prog", fail(SystemExit(0)), argv=[])


def test_torch_entry_point_in_process(tmp_path, capsys) -> None:
    """``sepconv_torch.cli.cli_main``: status 2 and one line; ``--debug`` is kept from LightningCLI."""
    from sepconv_torch.cli import cli_main

    recipe = tmp_path / "typo.yaml"
    recipe.write_text("model:\n  schedule: cosin\n")
    assert cli_main(["fit", "--config", str(recipe)]) == 2
    assert capsys.readouterr().err == (
        f"sepconv-torch: error: {recipe}: model.schedule must be one of 'constant', 'cosine', "
        "received model.schedule='cosin'\n"
    )
    assert cli_main(["fit", "--debug", "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RecipeError" in err
    assert err.splitlines()[-1].startswith("sepconv-torch: error: ")
