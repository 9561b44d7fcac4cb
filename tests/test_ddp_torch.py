"""``sepconv-torch`` under DDP with 2 CPU processes (gloo): the arithmetic, synced metrics, rank-0 outputs.

Two processes at a per-process batch of 16 must update the weights as one process at batch 32:
each global batch is the same 32 samples (the shards of one (seed, epoch) permutation) and DDP
averages the two half-batch gradients. Checked after one optimizer step and after four (four
epochs of one step: each epoch reshuffles), with momentum so the optimizer state matters too.

Both runs use the correctly rounded SELU (``--model.precise_selu``). With the default, TensorFlow's
float32 ``exp(x) - 1``, activations near zero are quantised to steps of 6e-8, and under the
reference initialisation sepconv4's activations are ~1e-3: the two runs' convolutions round
differently (batch 16 against 32), and after four steps sepconv4's bias differs by 2.7e-6 (0.14 %
of its size), which is float32 noise of the formula, not DDP arithmetic.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_runs import QUIET, run, weights

from sepconv.data import load_splits
from sepconv_torch.lit_module import SepConvLitModule

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

FIT = [
    "fit",
    "--trainer.accelerator=cpu",
    "--trainer.max_epochs=4",
    "--trainer.limit_train_batches=1",
    "--model.momentum=0.9",
    "--model.precise_selu=true",
    "--checkpoint.save_top_k=-1",
    "--checkpoint.filename={epoch}",
    "--early_stopping.patience=100",
    *QUIET,
]
DDP2 = ["--trainer.strategy=ddp", "--trainer.devices=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One process at batch 32 (2 validation batches of 500) and 2 processes at 16 (1 batch each)."""
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("ddp2")
    run(*FIT, f"--trainer.default_root_dir={one}", "--data.batch_size=32", "--trainer.limit_val_batches=2")
    run(
        *FIT,
        *DDP2,
        f"--trainer.default_root_dir={two}",
        "--data.batch_size=16",
        "--trainer.limit_val_batches=1",
    )
    return one / "lightning_logs/version_0", two / "lightning_logs/version_0"


@pytest.mark.parametrize("epoch", [1, 4], ids=["one-step", "four-steps"])
def test_two_processes_at_16_equal_one_at_32(runs: tuple[Path, Path], epoch: int) -> None:
    one, two = (torch.load(r / f"checkpoints/epoch={epoch}.ckpt", weights_only=True) for r in runs)
    assert one["global_step"] == two["global_step"] == epoch
    initial = SepConvLitModule(lr=0.01, precise_selu=True).state_dict()  # seed 42 gives both runs this start
    moved = 0.0
    for name, w1 in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], w1, rtol=1e-5, atol=1e-6, msg=name)
        moved = max(moved, float((w1 - initial[name]).abs().max()))
    assert moved > 1e-4  # the steps changed the weights by far more than the tolerance


def test_validation_metrics_are_synced(runs: tuple[Path, Path]) -> None:
    """Each rank validates 500 images; the logged values are over all 1000, as one process's 2 batches."""
    rows = [list(csv.DictReader((r / "metrics.csv").open())) for r in runs]
    assert len(rows[0]) == len(rows[1]) == 4
    for a, b in zip(*rows, strict=True):
        assert float(b["val_loss"]) == pytest.approx(float(a["val_loss"]), rel=1e-5)
        assert float(b["val_accuracy"]) == pytest.approx(float(a["val_accuracy"]), abs=1e-6)
        assert float(b["accuracy"]) == pytest.approx(float(a["accuracy"]), abs=1e-6)


def test_only_rank_zero_writes(runs: tuple[Path, Path]) -> None:
    root = runs[1].parents[1]
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]
    names = {p.name for p in runs[1].iterdir()}
    assert {"metrics.csv", "learning_curves.png", "config.yaml", "checkpoints"} <= names
    assert len(list(runs[1].glob("events.out.tfevents.*"))) == 1


def test_resume_test_and_predict_under_ddp(runs: tuple[Path, Path]) -> None:
    """``--ckpt_path last`` resumes under DDP; ``test`` and ``predict`` on 2 ranks match one process."""
    root = runs[1].parents[1]
    run(
        *FIT[:2],
        "--trainer.max_epochs=5",
        *FIT[3:],
        *DDP2,
        f"--trainer.default_root_dir={root}",
        "--data.batch_size=16",
        "--trainer.limit_val_batches=1",
        "--ckpt_path=last",
    )
    resumed = root / "lightning_logs/version_0/checkpoints/last.ckpt"  # continued in its own run
    assert torch.load(resumed, weights_only=True)["global_step"] == 5

    quiet = ["--trainer.logger=false", *QUIET, f"--trainer.default_root_dir={root}", "--ckpt_path=last"]
    run("test", *DDP2, "--trainer.accelerator=cpu", *quiet)
    run("predict", *DDP2, "--trainer.accelerator=cpu", *quiet)
    splits = load_splits(download=False)
    model = SepConvLitModule()
    model.load_state_dict(weights(resumed))
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(splits.images("test", "NCHW")))
    labels = torch.from_numpy(splits.labels("test"))
    probs = np.load(root / "predictions.npy")
    assert probs.shape == (10000, 10)
    np.testing.assert_allclose(probs, torch.softmax(logits, -1).numpy(), rtol=1e-4, atol=1e-6)
    metrics = json.loads((root / "lightning_logs/version_0/test_metrics.json").read_text())
    assert metrics["test_accuracy"] == pytest.approx(
        float((logits.argmax(1) == labels).float().mean()), abs=1e-7
    )
    assert metrics["test_loss"] == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-5)
