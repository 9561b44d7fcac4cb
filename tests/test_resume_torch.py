"""A ``kill -9``-ed ``sepconv-torch fit`` resumes exactly; the same seed twice gives the same weights.

The tuned recipe (augmentation, Nesterov momentum, cosine schedule with warm-up), short epochs,
one thread per process. The resumed run restarts the killed epoch from the last checkpoint; its
shuffle and augmentation draws derive from (seed, epoch, rank), so it retraces the same steps.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch_runs import QUIET, command, env, run, weights

from sepconv.recipes import recipe_path
from sepconv_torch.checkpoints import find_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

FIT = [
    "fit",
    f"--config={recipe_path('tuned')}",
    "--trainer.max_epochs=3",
    "--trainer.limit_train_batches=60",
    "--trainer.limit_val_batches=2",
    *QUIET,
]
LAST = "lightning_logs/version_{}/checkpoints/last.ckpt"


def _killed_run(root: Path) -> Path:
    """Start the fit, ``kill -9`` it during the second epoch; the checkpoint of the first epoch is left."""
    proc = subprocess.Popen(
        command(*FIT, f"--trainer.default_root_dir={root}"),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = root / LAST.format(0)
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.8)  # into the second epoch (an epoch takes a few seconds)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert still_running, f"the run ended before the kill (exit {proc.returncode}):\n{err[-3000:]}"
    assert proc.returncode == -signal.SIGKILL
    return last


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    run(*FIT, f"--trainer.default_root_dir={root}")
    return root / LAST.format(0)


def test_same_seed_same_weights(uninterrupted: Path, tmp_path: Path) -> None:
    run(*FIT, f"--trainer.default_root_dir={tmp_path}")
    again, first = weights(tmp_path / LAST.format(0)), weights(uninterrupted)
    assert all(torch.equal(again[k], first[k]) for k in first)


def test_kill_9_then_resume_is_bit_identical(uninterrupted: Path, tmp_path: Path) -> None:
    left = _killed_run(tmp_path)
    state = torch.load(left, map_location="cpu", weights_only=True)  # the kill left a loadable checkpoint
    assert state["epoch"] == 0 and state["global_step"] == 60
    assert not list(left.parent.glob(".*.tmp"))

    done = run(*FIT, f"--trainer.default_root_dir={tmp_path}", "--ckpt_path=last")
    assert str(left) in done.stdout  # resolved to the killed run's checkpoint
    resumed, expected = weights(tmp_path / LAST.format(0)), weights(uninterrupted)  # continued in its run
    assert all(torch.equal(resumed[k], expected[k]) for k in expected), "resumed weights differ"
    final = torch.load(tmp_path / LAST.format(0), map_location="cpu", weights_only=True)
    assert final["global_step"] == 180
    rows = (tmp_path / "lightning_logs/version_0/metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]  # the curves cover every epoch

    # best|last in a new process come from the run, which the resume continued.
    newest = tmp_path / "lightning_logs/version_0"
    assert [p.name for p in (tmp_path / "lightning_logs").iterdir()] == ["version_0"]
    assert find_checkpoint(tmp_path, "last") == newest / "checkpoints/last.ckpt"
    recorded = next(v["best_model_path"] for k, v in final["callbacks"].items() if k.startswith("ModelCheck"))
    assert find_checkpoint(tmp_path, "best") == Path(recorded)
    run(
        "test", f"--trainer.default_root_dir={tmp_path}", "--ckpt_path=last", "--trainer.logger=false", *QUIET
    )
    metrics = json.loads((newest / "test_metrics.json").read_text())
    assert metrics["ckpt_path"] == str(newest / "checkpoints/last.ckpt")
