"""benchmarks/framework_ab.py: its refusals, and one tiny real run's table and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from commands import ROOT, benchmark

SCRIPT = ROOT / "benchmarks" / "framework_ab.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--turns", "0"], "--turns must be a positive integer, received 0"),
        (["--predict-batches", "-1"], "--predict-batches must be a positive integer"),
        (["--block", "10", "--warmup", "10"], "--warmup must be in [0, --block)"),
        (["--threads", "0"], "--threads must be a positive integer, received 0"),
    ],
)
def test_bad_numbers_are_refused(args: list[str], words: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_unreadable_architecture_is_one_line() -> None:
    proc = _run("--architecture", "no_such_network")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("framework_ab: error:") and "no_such_network" in lines[0]


@pytest.mark.slow
def test_one_turn_measures_both_frameworks(tmp_path: Path) -> None:
    """Real data, both frameworks in one process: every turn has both, and the ratio is Lightning / Keras."""
    out = tmp_path / "ab.json"
    proc = _run(
        "--architecture", "reference", "--turns", "2", "--block", "4", "--warmup", "1",
        "--predict-batches", "1", "--threads", "1", "--json", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| training step |" in proc.stdout and "| inference per 256 |" in proc.stdout
    report = json.loads(out.read_text())
    assert report["architecture"] == "reference" and len(report["turns"]) == 2 and report["threads"] == 1
    assert "threads: 1;" in proc.stdout and "% stolen" in proc.stdout
    assert set(report["host"]) == {"idle", "steal"} and 0 <= report["host"]["steal"] <= 1
    for key in ("step", "infer256"):
        medians = report["medians"][key]
        assert medians["keras_ms"] > 0 and medians["lightning_ms"] > 0
        assert medians["ratio"] == pytest.approx(medians["lightning_ms"] / medians["keras_ms"])


def test_host_shares_from_proc_stat() -> None:
    ab = benchmark("framework_ab")
    start = ab.cpu_times("cpu  100 0 50 200 10 0 0 40 0 0\ncpu0 1 2 3\n")
    end = ab.cpu_times("cpu  400 0 100 300 10 0 0 240 0 0\n")
    assert start == [100, 0, 50, 200, 10, 0, 0, 40]
    assert ab.host_shares(start, end) == pytest.approx({"idle": 100 / 650, "steal": 200 / 650})
    assert ab.cpu_times("intr 1 2\n") is None and ab.host_shares(None, end) is None
    assert ab.host_shares(end, end) is None  # no time passed
