"""``sepconv-keras train``: the same seed twice gives the same weights; a ``kill -9``-ed run resumed with
``--resume`` ends bit-identical to an uninterrupted one (tuned recipe: cosine, momentum, augmentation)."""

from __future__ import annotations

import csv
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from keras_runs import command, last_weights, run
from torch_runs import env

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

SHORT = ["--recipe", "tuned", "--epochs", "3", "--steps-per-epoch", "60"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    run(*SHORT, "--output-dir", str(out))
    return out


def _identical(a: Path, b: Path) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(last_weights(a), last_weights(b), strict=True))


def test_same_seed_same_weights(uninterrupted: Path, tmp_path: Path) -> None:
    run(*SHORT, "--output-dir", str(tmp_path))
    assert _identical(tmp_path, uninterrupted)


def test_kill_9_then_resume_is_bit_identical(uninterrupted: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        command(*SHORT, "--output-dir", str(tmp_path)),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    metadata = tmp_path / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 240
    while not metadata.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the second epoch
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert still_running, f"the run ended before the kill (exit {proc.returncode}):\n{err[-3000:]}"
    assert not (tmp_path / "last.keras").exists()

    again = subprocess.run(
        command(*SHORT, "--output-dir", str(tmp_path)), check=False, env=env(), capture_output=True, text=True
    )
    assert again.returncode == 2 and "pass --resume" in again.stderr.splitlines()[-1]

    run(*SHORT, "--output-dir", str(tmp_path), "--resume")
    assert _identical(tmp_path, uninterrupted), "resumed weights differ"
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    expected = list(csv.DictReader((uninterrupted / "metrics.csv").open()))
    assert rows == expected  # every epoch's metrics, the restored ones included
    assert not (tmp_path / "backup").exists()  # a finished run removes its backup
