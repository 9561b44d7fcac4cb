"""sepconv-parity: the table, the JSON, the plot, and a non-zero exit on a broken port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parity.harness import cli, data
from parity.harness.cli import main


@pytest.mark.slow
def test_report_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "report.json", tmp_path / "report.png"
    assert main(["--steps", "10", "--json", str(out), "--plot", str(png)]) == 0
    table = capsys.readouterr().out
    assert "all checks passed" in table and "trajectory float32, 10 steps" in table
    report = json.loads(out.read_text())
    assert report["passed"] and {r["check"] for r in report["results"]} >= {
        "param_counts",
        "forward",
        "float64_exact",
        "activations",
        "gradients",
        "sgd_step",
        "trajectory",
        "round_trip",
    }
    assert len(next(r for r in report["results"] if r["check"] == "trajectory")["series"]["abs_diff"]) == 10
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.png"]  # no temporary left


@pytest.mark.slow
def test_broken_port_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["--steps", "3", "--port", "no_flatten_permutation", "--json", str(out)]) == 1
    assert "FAIL" in capsys.readouterr().out
    failed = {r["check"] for r in json.loads(out.read_text())["results"] if not r["passed"]}
    assert {"forward", "activations", "trajectory"} <= failed


def test_bad_checkpoint_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.ckpt"
    assert main(["--torch", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.fixture()
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the long run starts."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suite ran")

    monkeypatch.setattr(cli, "run_suite", refuse)


@pytest.mark.parametrize(
    ("option", "name", "message"),
    [
        ("--json", "missing/report.json", "does not exist"),
        ("--plot", "report.txt", "expected a .png file"),
        ("--json", ".", "is a directory"),
    ],
)
def test_output_paths_checked_before_the_run(
    option: str, name: str, message: str, tmp_path: Path, no_run: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([option, str(tmp_path / name)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sepconv-parity: error:") and message in err and len(err.splitlines()) == 1


def test_missing_data_found_before_the_run(
    monkeypatch: pytest.MonkeyPatch, no_run: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from sepconv.data import FashionMNISTError

    def missing(*args: object, **kwargs: object) -> None:
        raise FashionMNISTError("Fashion-MNIST not found in /nowhere")

    monkeypatch.setattr(data, "load_splits", missing)
    assert main(["--steps", "2"]) == 2
    assert "not found in /nowhere" in capsys.readouterr().err
    assert main(["--steps", "2", "--debug"]) == 2  # the traceback first, the same status
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "FashionMNISTError" in err


def test_non_finite_weights_refused_before_the_run(
    tmp_path: Path, no_run: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NaN weight made checks fail, as if the port were wrong; the file is what is wrong."""
    import torch

    from sepconv_torch import build_model

    state = build_model(seed=0).state_dict()
    state["conv1.weight"][0, 0, 1, 1] = float("nan")
    path = tmp_path / "nan.pt"
    torch.save(state, path)
    assert main(["--torch", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"sepconv-parity: error: {path}: unusable weights: conv1.weight: NaN or Inf (1 of 288); "
        "parity of a broken model says nothing about the port"
    )
