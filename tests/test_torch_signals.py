"""SIGTERM and Ctrl-C stop a real ``sepconv-torch fit``: status 143 / 130, one line, a resume that works.

The line names the kept ``last.ckpt`` and the command that resumes; the learning curves and
``metrics.csv`` cover the finished epochs. Under DDP (2 CPU processes) every rank stops.
"""

from __future__ import annotations

import csv
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch_runs import QUIET, command, env, run

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

FIT = [
    "fit",
    "--trainer.max_epochs=3",
    "--trainer.limit_train_batches=30",
    "--trainer.limit_val_batches=1",
    "--trainer.log_every_n_steps=10",
    *QUIET,
]
RUN = "lightning_logs/version_0"


def _start(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*FIT, f"--trainer.default_root_dir={root}", *extra),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job: Ctrl-C reaches every rank
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended first (exit {proc.returncode}):\n{proc.stderr.read()[-3000:]}"
    assert path.exists(), "no checkpoint in time"


def _others(root: Path) -> list[int]:
    """Processes still running with ``root`` on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(root).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _stopped_line(stderr: str, word: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("sepconv-torch:")]
    assert len(lines) == 1 and lines[0].startswith(f"sepconv-torch: {word}"), stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted")],
    ids=["sigterm", "sigint"],
)
def test_signal_then_resume(tmp_path: Path, signum: int, status: int, word: str) -> None:
    last = tmp_path / RUN / "checkpoints/last.ckpt"
    proc = _start(tmp_path)
    _wait_for(last, proc)
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-3000:]
    line = _stopped_line(err, word)
    assert f"kept {last} (" in line, line
    done = torch.load(last, map_location="cpu", weights_only=True)["epoch"] + 1
    rows = list(csv.DictReader((tmp_path / RUN / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == [str(e) for e in range(1, done + 1)]
    assert (tmp_path / RUN / "learning_curves.png").is_file()

    resume = shlex.split(line.split("; resume: ", 1)[1])
    assert resume[0] == "sepconv-torch" and resume[-2:] == ["--ckpt_path", "last"], resume
    run(*resume[1:], timeout=600)  # exits 0
    rows = list(csv.DictReader((tmp_path / RUN / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 90


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "sigint"]
)
def test_every_ddp_rank_stops(tmp_path: Path, signum: int, status: int) -> None:
    """SIGTERM to rank 0 (as ``kill``), Ctrl-C to the process group: both ranks end, rank 0 says so."""
    last = tmp_path / RUN / "checkpoints/last.ckpt"
    proc = _start(tmp_path, "--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu")
    _wait_for(last, proc)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-3000:]
    _stopped_line(err, "terminated" if signum == signal.SIGTERM else "interrupted")
    deadline = time.monotonic() + 60
    while _others(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _others(tmp_path), "a rank is still running"
