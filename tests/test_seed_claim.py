"""benchmarks/seed_claim.py: the table it prints from what OUT holds, a diverged run, and refusals.

The trainings and timings (an hour and more) are replaced by the JSON files they write: only the driver's
bookkeeping is under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from commands import ROOT, benchmark

SCRIPT = ROOT / "benchmarks" / "seed_claim.py"


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_table_rows_from_results_with_a_diverged_run(tmp_path: Path) -> None:
    claim = benchmark("seed_claim")
    _write(tmp_path / "reference" / "count.json", {"parameters": 184234, "flops": 8131200})
    _write(tmp_path / "reference" / "tuned" / "lightning.json", {"test_accuracy": 0.92291})
    _write(
        tmp_path / "reference" / "tuned" / "keras.json",
        {"test_accuracy": None, "failed": "sepconv-keras: error: training diverged: nan", "exit": 1},
    )
    _write(
        tmp_path / "reference" / "framework_ab.json",
        {
            "threads": 1,
            "host": {"idle": 0.1, "steal": 0.25},
            "medians": {
                "step": {"lightning_ms": 20.0, "keras_ms": 16.0, "ratio": 1.25},
                "infer256": {"lightning_ms": 30.0, "keras_ms": 60.0, "ratio": 0.5},
            },
            "turns": [{}, {}, {}],
        },
    )
    text = claim.table(tmp_path, ["reference", "standard"], ["reference", "tuned"])
    rows = {line.split(" | ")[0]: line.split(" | ") for line in text.splitlines() if line.startswith("| `")}
    assert rows["| `reference`"][1:5] == ["184,234", "8.13", "- / -", "0.9229 / diverged"]
    assert rows["| `reference`"][5:] == ["20.00 / 16.00 = **1.25**", "30.00 / 60.00 = **0.50** |"]
    assert rows["| `standard`"][1:] == ["-", "-", "- / -", "- / -", "-", "- |"]
    assert "in one process, medians over 3 alternating turns, 1 threads per framework" in text
    assert "host: 25-25 % of CPU time stolen by the hypervisor while timing" in text


def test_a_failed_run_other_than_divergence_shows_its_exit() -> None:
    claim = benchmark("seed_claim")
    assert claim._accuracy({"test_accuracy": None, "failed": "killed", "exit": 137}) == "failed (exit 137)"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--networks", "no_such_network"], "--networks"),
        (["--recipes", "no_such_recipe"], "--recipes"),
    ],
)
def test_bad_names_are_refused_before_any_run(args: list[str], words: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--stages", "table", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())
