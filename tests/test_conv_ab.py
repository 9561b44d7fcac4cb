"""benchmarks/conv_ab.py: one convolution's pieces in both frameworks, a tiny run and its refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest
from commands import ROOT

SCRIPT = ROOT / "benchmarks" / "conv_ab.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def test_a_tiny_run_times_every_piece_in_both_frameworks() -> None:
    proc = _run("--shapes", "7,8,16", "--turns", "1", "--reps", "1")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(" | ") for line in proc.stdout.splitlines() if line.startswith("| 7x7, 8->16")]
    assert [r[1] for r in rows] == [
        "forward",
        "input grad",
        "weight grad",
        "forward + backward (PyTorch's in one call)",
    ]
    for row in rows:
        torch_ms, tf_ms, ratio = (float(cell.strip(" |")) for cell in row[2:5])
        assert torch_ms > 0 and tf_ms > 0 and ratio == pytest.approx(torch_ms / tf_ms, abs=0.006)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--shapes", "7,8"], "expected SIZE,CIN,COUT"),
        (["--shapes", "7,0,8"], "expected SIZE,CIN,COUT"),
        (["--turns", "0"], "--turns must be a positive integer"),
    ],
)
def test_bad_arguments_are_refused(args: list[str], words: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
