"""A ``kill -9``-ed ``sepconv-torch fit`` of a described BatchNorm network (MobileNet v1 0.25, 32x32x3,
with Dropout) resumes exactly: weights, BatchNorm moving mean and variance and batch counts
bit-identical to an uninterrupted run (the tuned recipe: augmentation, Nesterov momentum, cosine
schedule with warm-up; one thread per process)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch_runs import QUIET, command, env, run

from sepconv.arch import description_path
from sepconv.recipes import recipe_path

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

FIT = [
    "fit",
    f"--config={recipe_path('tuned')}",
    f"--model.architecture={description_path('mobilenet_v1_025_32')}",
    "--trainer.max_epochs=3",
    "--trainer.limit_train_batches=40",
    "--trainer.limit_val_batches=1",
    "--checkpoint.save_top_k=-1",  # last.ckpt after every epoch (Lightning writes it with a kept checkpoint)
    *QUIET,
]
LAST = "lightning_logs/version_0/checkpoints/last.ckpt"


def _state(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _killed_run(root: Path) -> Path:
    """Start the fit, ``kill -9`` it during the second epoch; the checkpoint of the first is left."""
    proc = subprocess.Popen(
        command(*FIT, f"--trainer.default_root_dir={root}"),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = root / LAST
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the second epoch
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert still_running, f"the run ended before the kill (exit {proc.returncode}):\n{err[-3000:]}"
    return last


def test_kill_9_then_resume_is_bit_identical_buffers_included(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    run(*FIT, f"--trainer.default_root_dir={whole}")
    expected = _state(whole / LAST)

    killed = tmp_path / "killed"
    left = _killed_run(killed)
    stored = torch.load(left, map_location="cpu", weights_only=True)
    assert stored["global_step"] in (40, 80)  # killed before the end
    done = run(*FIT, f"--trainer.default_root_dir={killed}", "--ckpt_path=last")
    assert str(left) in done.stdout
    resumed = _state(killed / LAST)
    assert list(resumed) == list(expected)
    buffers = [k for k in expected if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(buffers) == 3 * 27 and int(expected["net.conv1_bn.num_batches_tracked"]) == 120
    differ = [k for k in expected if not torch.equal(resumed[k], expected[k])]
    assert not differ, f"resumed state differs in {differ[:5]}"
