"""CI runs every test once: ``.ci/run`` is ruff, the fast tier (``make test``), then the slow tier alone.

The real ``.ci/run`` and ``Makefile`` run in a copy of the tree whose ``.venv/bin`` holds stand-ins for
``python -m pytest`` and ``ruff``: each logs its arguments and exits with the status the test chooses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
#: a stand-in for ``python -m pytest``: status $FAST for ``-m "not slow"``, $SLOW for ``-m slow``, else 0
PYTHON = """#!/bin/sh
echo "$*" >> "$LOG"
for a in "$@"; do case "$a" in "not slow") exit "$FAST";; slow) exit "$SLOW";; esac; done
exit 0
"""
RUFF = '#!/bin/sh\necho "ruff $*" >> "$LOG"\n'
LINT = ["ruff check .", "ruff format --check ."]
FAST, SLOW = "-m pytest -m not slow", "-m pytest -m slow"
COLLECT = "-m pytest -q --collect-only -m not slow"
#: what a make running these tests (``make test PYTEST=...``) passes down, overriding the Makefile
OUTER_MAKE = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTEST", "PYTHON", "VENV"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Makefile and .ci/run over a virtual environment of stand-ins, installed after pyproject.toml."""
    (tmp_path / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").touch()
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", PYTHON), ("ruff", RUFF)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / ".venv" / ".installed").touch()
    old = os.path.getmtime(tmp_path / ".venv" / ".installed") - 10
    os.utime(tmp_path / "pyproject.toml", (old, old))  # installed after the last change: nothing to reinstall
    data = tmp_path / "data"
    data.mkdir()
    for name in FILES:
        (data / f"{name}.gz").touch()
    return tmp_path


def run(tree: Path, command: list[str], fast: int = 0, slow: int = 0) -> tuple[int, list[str], str]:
    """Run ``command`` in ``tree``; its status, the stand-ins' calls in order, and its output."""
    log = tree / "calls.log"
    env = {k: v for k, v in os.environ.items() if k not in OUTER_MAKE}
    env |= {"LOG": str(log), "FAST": str(fast), "SLOW": str(slow), "SEPCONV_DATA_DIR": str(tree / "data")}
    proc = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    return proc.returncode, calls, proc.stdout + proc.stderr


def test_ci_runs_lint_then_the_fast_tier_then_only_the_slow_tier(tree: Path) -> None:
    status, calls, output = run(tree, ["bash", ".ci/run"])
    assert status == 0, output
    assert calls == [*LINT, FAST, SLOW]


@pytest.mark.parametrize(
    ("fast", "slow", "calls"),
    [(1, 0, [*LINT, FAST]), (0, 1, [*LINT, FAST, SLOW]), (0, 2, [*LINT, FAST, SLOW])],
    ids=["fast-fails", "slow-fails", "slow-interrupted"],
)
def test_a_failing_tier_fails_ci(tree: Path, fast: int, slow: int, calls: list[str]) -> None:
    status, got, output = run(tree, ["bash", ".ci/run"], fast=fast, slow=slow)
    assert status != 0 and got == calls, output


def test_no_slow_test_at_all_passes_and_says_so(tree: Path) -> None:
    """pytest's status 5 (nothing selected) from ``-m slow``: the fast tier holds every test."""
    status, calls, output = run(tree, ["bash", ".ci/run"], slow=5)
    assert status == 0, output
    assert calls == [*LINT, FAST, SLOW, COLLECT]
    assert "test-slow: no test is marked slow; the fast tier holds them all\n" in output


@pytest.mark.parametrize("target", ["test", "test-slow"])
def test_a_tier_over_an_empty_suite_fails(tree: Path, target: str) -> None:
    """Status 5 from both selections means no test was found at all: a failure, never a pass."""
    status, _, output = run(tree, ["make", target], fast=5, slow=5)
    assert status != 0 and not any(line.startswith("test-slow:") for line in output.splitlines()), output


def test_make_test_all_is_lint_and_one_run_of_everything(tree: Path) -> None:
    status, calls, output = run(tree, ["make", "test-all"])
    assert status == 0 and calls == [*LINT, "-m pytest"], output
