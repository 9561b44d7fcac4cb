"""``sepconv-torch fit`` of a described network with Dropout under DDP (2 CPU processes, gloo): a run
stopped after its first epoch (its ``last.ckpt``: the uninterrupted run's epoch-1 checkpoint) and resumed
with ``--ckpt_path last`` ends bit-identical to an uninterrupted run, because the checkpoint holds every
rank's CPU random state (:mod:`sepconv_torch.rng`) and each rank continues its own dropout masks.

The ranks draw from streams of their own (:func:`sepconv_torch.rng.seed_rank_stream`), so their states in the
checkpoint differ: a resume that gave every rank rank 0's state would not end bit-identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch_runs import QUIET, run

from sepconv.arch import description_path
from sepconv_torch.rng import RANK_RNG_KEY

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

FIT = [
    "fit",
    "--trainer.accelerator=cpu",
    "--trainer.strategy=ddp",
    "--trainer.devices=2",
    f"--model.architecture={description_path('mobilenet_v1_025_32')}",  # Dropout before its classifier
    "--data.batch_size=16",
    "--data.eval_batch_size=100",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.num_sanity_val_steps=0",
    "--early_stopping.patience=100",
    "--checkpoint.save_top_k=-1",
    "--checkpoint.filename={epoch}",
    *QUIET,
]
CHECKPOINTS = "lightning_logs/version_0/checkpoints"


def _load(root: Path, name: str) -> dict:
    return torch.load(root / CHECKPOINTS / name, map_location="cpu", weights_only=True)


def test_stopped_then_resumed_under_ddp_is_bit_identical(tmp_path: Path) -> None:
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    run(*FIT, "--trainer.max_epochs=2", f"--trainer.default_root_dir={whole}")
    (stopped / CHECKPOINTS).mkdir(parents=True)  # as a run stopped after epoch 1 leaves it
    shutil.copy(whole / CHECKPOINTS / "epoch=1.ckpt", stopped / CHECKPOINTS / "last.ckpt")

    run(*FIT, "--trainer.max_epochs=2", f"--trainer.default_root_dir={stopped}", "--ckpt_path=last")
    expected, resumed = _load(whole, "epoch=2.ckpt"), _load(stopped, "epoch=2.ckpt")
    assert resumed["global_step"] == expected["global_step"] == 4
    differ = [k for k, v in expected["state_dict"].items() if not torch.equal(resumed["state_dict"][k], v)]
    assert not differ, f"resumed weights differ in {differ[:5]}"
    states = expected[RANK_RNG_KEY]
    assert states.shape[0] == 2 and not torch.equal(states[0], states[1])  # each rank's own
    assert torch.equal(resumed[RANK_RNG_KEY], states)
