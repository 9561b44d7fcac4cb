"""Helpers for tests that run ``sepconv-torch`` as a real command (DDP, kill and resume)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

__all__ = ["QUIET", "command", "env", "run", "weights"]

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def env(threads: int = 1) -> dict[str, str]:
    """The environment of a child run: this tree first on the path, fixed thread count, no TensorFlow logs."""
    root = str(Path(__file__).resolve().parents[1])
    extra = {"PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    extra |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return {**os.environ, **extra}


def command(*args: str) -> list[str]:
    """``sepconv-torch ARGS`` through this interpreter (DDP's launcher re-runs it for ranks 1..N-1)."""
    return [sys.executable, "-m", "sepconv_torch.cli", *args]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``sepconv-torch ARGS`` to the end; fail with its output if it exits non-zero."""
    done = subprocess.run(
        command(*args), check=False, env=env(), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"sepconv-torch {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}"
        )
    return done


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    """The model's ``state_dict`` stored in a Lightning checkpoint."""
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
