"""Helpers for tests that run ``sepconv-keras train`` as a real command (strategies, kill and resume)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from torch_runs import env

__all__ = ["command", "const_recipe", "last_weights", "run"]


def command(*args: str) -> list[str]:
    """``sepconv-keras train ARGS`` through this interpreter."""
    return [sys.executable, "-m", "sepconv_keras.train", "train", "--verbose", "0", *args]


def run(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 300) -> None:
    """Run ``sepconv-keras train ARGS`` to the end; fail with its output if it exits non-zero."""
    done = subprocess.run(
        command(*args),
        check=False,
        env={**env(), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"sepconv-keras train {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}"
        )


def const_recipe(path: Path) -> Path:
    """The tuned recipe with a constant learning rate (short runs: no warm-up to wait through)."""
    from sepconv.recipes import recipe_path

    text = recipe_path("tuned").read_text()
    path.write_text(
        text.replace("schedule: cosine", "schedule: constant").replace(
            "warmup_epochs: 1.0", "warmup_epochs: 0.0"
        )
    )
    return path


def last_weights(out: Path) -> list[np.ndarray]:
    """The weights of ``out/last.keras``, the model at the end of training."""
    import keras

    return keras.models.load_model(out / "last.keras", compile=False).get_weights()


def kill_after_first_backup(out: Path, *args: str) -> None:
    """Start ``sepconv-keras train ARGS --output-dir out`` and ``kill -9`` it as soon as its first epoch is
    backed up; the run must still have been running, and have written no ``last.keras``."""
    proc = subprocess.Popen(
        command(*args, "--output-dir", str(out)),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    metadata = out / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 300
    while not metadata.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert still_running, f"the run ended before the kill (exit {proc.returncode}):\n{err[-3000:]}"
    assert not (out / "last.keras").exists()
