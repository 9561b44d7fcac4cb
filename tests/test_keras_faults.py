"""``sepconv-keras train`` under the faults of a real run: SIGTERM and Ctrl-C (143 and 130, one line
saying what was saved and how to resume, then a resume from it), a damaged backup, a resume with other
options. Each run is a real command on the real data, stopped once its first epoch is backed up."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from keras_runs import command, const_recipe
from torch_runs import env

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

# Long enough that a signal sent once the first epoch is backed up finds the run still training.
LONG = ["--epochs", "40", "--steps-per-epoch", "5"]


def _stopped(out: Path, signum: int) -> subprocess.CompletedProcess[str]:
    """Start a run into ``out`` and send ``signum`` once its first epoch's backup is on disk."""
    proc = subprocess.Popen(
        command(*LONG, "--output-dir", str(out)),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - a background shell ignores it
    )
    metadata = out / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 300
    while not metadata.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    running = proc.poll() is None
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert running, f"the run ended before the signal (exit {proc.returncode}):\n{stderr[-3000:]}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _resume(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*LONG, "--output-dir", str(out), "--resume", *args),
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "metrics.csv").open()))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of a run stopped by SIGTERM after its first epoch (copied by each test)."""
    out = tmp_path_factory.mktemp("interrupted") / "out"
    assert _stopped(out, signal.SIGTERM).returncode == 143
    return out


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_saves_says_how_to_resume_and_the_resume_finishes(
    tmp_path: Path, signum: int, status: int, word: str
) -> None:
    out = tmp_path / "out"
    stopped = _stopped(out, signum)
    lines = stopped.stderr.strip().splitlines()
    assert stopped.returncode == status, stopped.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    line = lines[0]
    assert line.startswith(f"sepconv-keras: {word}; epoch "), line
    done = int(line.split("; epoch ")[1].split()[0])
    assert f"is backed up in {out / 'backup'} and the best model so far is {out / 'best.keras'}" in line
    assert len(_rows(out)) >= done >= 1  # learning curves up to the last finished epoch
    assert (out / "learning_curves.png").is_file()
    assert not (out / "test_metrics.json").exists()

    resume = shlex.split(line.split("continue with `")[1].rstrip("`"))
    assert resume[:2] == ["sepconv-keras", "train"] and resume[-1] == "--resume"
    again = subprocess.run(
        [sys.executable, "-m", "sepconv_keras.train", *resume[1:]],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    results = json.loads((out / "test_metrics.json").read_text())
    assert results["epochs_run"] == len(_rows(out)) > done
    assert not (out / "backup").exists()


def test_a_cut_backup_falls_back_to_the_previous_epoch(interrupted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(interrupted, out)
    backup = out / "backup"
    previous = backup / "latest.weights.h5.bkp"
    if not previous.exists():  # stopped after epoch 1: make a second epoch's backup by hand
        shutil.copy(backup / "latest.weights.h5", previous)
    with open(backup / "latest.weights.h5", "r+b") as f:
        f.truncate(11_500)  # as a kill during the save left it
    done = _resume(out, "--epochs", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{backup / 'latest.weights.h5'}: unreadable" in done.stderr
    assert "resuming from the previous backup" in done.stderr
    assert json.loads((out / "test_metrics.json").read_text())["epochs_run"] == 3


def test_a_backup_with_nothing_usable(interrupted: Path, tmp_path: Path) -> None:
    """--resume refuses it naming the file; a run without --resume discards it and starts afresh."""
    out = tmp_path / "out"
    shutil.copytree(interrupted, out)
    backup = out / "backup"
    (backup / "latest.weights.h5.bkp").unlink(missing_ok=True)
    with open(backup / "latest.weights.h5", "r+b") as f:
        f.truncate(11_500)
    refused = _resume(out)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr[-3000:]
    assert f"--resume: no usable backup in {backup}" in lines[0]
    assert f"{backup / 'latest.weights.h5'}: unreadable" in lines[0]

    fresh = subprocess.run(
        command("--epochs", "1", "--steps-per-epoch", "5", "--output-dir", str(out)),
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert f"discarding {backup}, an unusable backup" in fresh.stderr
    assert json.loads((out / "test_metrics.json").read_text())["epochs_run"] == 1


def test_other_options_are_refused_unless_override(interrupted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(interrupted, out)
    refused = _resume(out, "--lr", "0.05", "--batch-size", "64")
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr[-3000:]
    assert "--batch-size 64 (the interrupted run: 32)" in lines[0]
    assert "--lr 0.05 (the interrupted run: 0.01)" in lines[0]
    assert "add --override" in lines[0]

    recipe = const_recipe(tmp_path / "momentum.yaml")  # momentum 0.9: the optimizer state changes shape
    done = _resume(out, "--recipe", str(recipe), "--epochs", "3", "--override")
    assert done.returncode == 0, done.stderr[-3000:]
    note = next(line for line in done.stderr.splitlines() if "--override" in line)
    assert "model.momentum 0.9 (the interrupted run: 0.0)" in note
    assert "the optimizer state does not fit the new optimizer and starts afresh" in note
    assert "UserWarning" not in done.stderr and "Skipping variable loading" not in done.stderr


def test_a_second_run_in_the_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    from sepconv.runlock import lock_run

    out = tmp_path / "out"
    with lock_run(out, "--output-dir", "sepconv-keras train --output-dir out"):  # the first run
        second = subprocess.run(
            command(*LONG, "--output-dir", str(out)), env=env(), capture_output=True, text=True, check=False
        )
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1, second.stderr[-3000:]
    assert lines[0].startswith(f"sepconv-keras: error: --output-dir {out}: in use by another run (pid ")
    assert f"(pid {os.getpid()} on host " in lines[0] and "`sepconv-keras train --output-dir out`" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [".sepconv.lock"]  # the second run wrote nothing
