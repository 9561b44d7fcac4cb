"""sepconv-parity: the table, the JSON, the plot, and a non-zero exit on a broken port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    assert len(next(r for r in report["results"] if r["check"] == "trajectory")["series"]["scaled_diff"]) == 10
    assert png.read_bytes()[:4] == b"\x89PNG"


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
