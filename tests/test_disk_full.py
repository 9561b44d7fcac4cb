"""A full disk during training: one line naming what could not be written, exit 1, no traceback, no
segfault, and the last good checkpoint left whole (and, for Keras, resumable once there is room).

The disk is a small tmpfs mounted for the test (root only: elsewhere these tests are skipped, and
``test_keras_backup.py`` injects ``OSError(ENOSPC)`` into the backup's save instead).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from keras_runs import command as keras_command
from torch_runs import QUIET, env
from torch_runs import command as torch_command

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def _mount(folder: Path, size: str, remount: bool = False) -> bool:
    options = f"remount,size={size}" if remount else f"size={size}"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, check=False
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: room for one model file and one backup (about 0.8 MB each), not for the next save."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if not _mount(folder, "2m"):
        pytest.skip("mounting a tmpfs needs root (test_keras_backup.py injects ENOSPC instead)")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def _one_line(done: subprocess.CompletedProcess[str], prog: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: no space left on device"), lines
    return lines[0]


def test_keras_full_disk_keeps_the_backup_and_resumes(small_disk: Path) -> None:
    out = small_disk / "out"
    args = ["--epochs", "4", "--steps-per-epoch", "3", "--output-dir", str(out)]
    full = subprocess.run(keras_command(*args), env=env(), capture_output=True, text=True, check=False)
    line = _one_line(full, "sepconv-keras")
    assert line.startswith(f"sepconv-keras: error: no space left on device writing {out}"), line
    assert line.count(str(out)) == 1, line
    assert line.endswith(" is kept")
    assert not list(out.rglob(".*.partial*"))  # the half-written file was removed

    import keras

    keras.models.load_model(out / "best.keras", compile=False)  # the last good best model is whole
    assert _mount(small_disk, "16m", remount=True)  # room again: the run goes on from its backup
    resumed = subprocess.run(
        keras_command(*args, "--resume"), env=env(), capture_output=True, text=True, check=False
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (out / "test_metrics.json").is_file()


def test_torch_full_disk_is_one_line_and_keeps_a_checkpoint(small_disk: Path) -> None:
    assert _mount(small_disk, "1m", remount=True)  # one 0.75 MB checkpoint fits, not the next
    root = small_disk / "out"
    fit = [
        "fit",
        "--trainer.max_epochs=4",
        "--trainer.limit_train_batches=3",
        "--trainer.limit_val_batches=2",
        "--trainer.log_every_n_steps=1",
        f"--trainer.default_root_dir={root}",
        *QUIET,
    ]
    full = subprocess.run(torch_command(*fit), env=env(), capture_output=True, text=True, check=False)
    _one_line(full, "sepconv-torch")
    assert f"no space left on device writing {root}" in full.stderr, full.stderr
    assert full.stderr.rstrip().endswith(".ckpt is kept") and full.stderr.count(str(root)) == 1, full.stderr
    kept = list(root.rglob("*.ckpt"))
    assert kept, "no checkpoint survived"
    for path in kept:
        assert "state_dict" in torch.load(path, map_location="cpu", weights_only=True)
