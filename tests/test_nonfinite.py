"""A non-finite loss stops training with a one-line error and status 1; the good checkpoints survive.

The guard itself (``sepconv_torch.finite.FiniteGuard``) on a toy module, then
the real commands: ``--lr 2`` trains a few good epochs before the loss blows up
(epoch 3 or 4 here), ``--lr 1000`` blows up at once.
"""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from commands import keras_train, run
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from sepconv.errors import TrainingError
from sepconv_torch.finite import FiniteGuard

SHORT = [
    "--trainer.limit_train_batches",
    "2",
    "--trainer.limit_val_batches",
    "2",
    "--trainer.max_epochs",
    "8",
]


class Toy(L.LightningModule):
    """A linear regression whose loss (``poison="loss"``) or weights (``"weights"``) turn NaN at one batch."""

    def __init__(self, poison: str, epoch: int, batch: int) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.poison, self.at = poison, (epoch, batch)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
        self.log("loss", loss, on_epoch=True, on_step=False)
        if self.poison == "loss" and (self.current_epoch, batch_idx) == self.at:
            loss = loss * float("nan")
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.poison == "weights" and (self.current_epoch, batch_idx) == self.at:
            with torch.no_grad():
                self.layer.weight.fill_(float("inf"))  # after a step whose loss was finite

    def validation_step(self, batch, batch_idx: int) -> None:
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def toy_fit(tmp_path: Path, poison: str, epoch: int, batch: int) -> Path:
    data = TensorDataset(torch.randn(32, 4, generator=torch.Generator().manual_seed(0)), torch.randn(32, 1))
    loader = DataLoader(data, batch_size=8)
    trainer = L.Trainer(
        default_root_dir=tmp_path,
        max_epochs=4,
        callbacks=[FiniteGuard(), ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor=None, save_last=True)],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Toy(poison, epoch, batch), loader, loader)
    return tmp_path / "ckpt" / "last.ckpt"


def test_non_finite_loss_stops_at_that_batch(tmp_path: Path) -> None:
    message = r"non-finite training loss \(nan\) at epoch 2, batch 3 \(global step 7\)"
    with pytest.raises(TrainingError, match=message):
        toy_fit(tmp_path, "loss", 1, 2)
    last = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0 and torch.isfinite(last["state_dict"]["layer.weight"]).all()


def test_non_finite_weights_are_never_checkpointed(tmp_path: Path) -> None:
    """The last step of epoch 2 spoils the weights with a finite loss: the end-of-epoch save is refused."""
    message = (
        r"non-finite parameters layer\.weight and val_loss=(nan|inf) at the end of epoch 2 \(global step 8\)"
    )
    with pytest.raises(TrainingError, match=message) as info:
        toy_fit(tmp_path, "weights", 1, 3)
    last = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0 and torch.isfinite(last["state_dict"]["layer.weight"]).all()
    assert f"no checkpoint written, kept: last {tmp_path / 'ckpt' / 'last.ckpt'}" in str(info.value)


def diverged(proc, prog: str) -> int:
    """Status 1, no traceback, the last stderr line is the one error line; returns the epoch it names."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and lines[-1].startswith(
        f"{prog}: error: training diverged: non-finite"
    )
    assert sum(line.startswith(f"{prog}: error") for line in lines) == 1
    return int(re.search(r"at (?:the end of )?epoch (\d+)", lines[-1]).group(1))


def finite(state: dict) -> bool:
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.slow
@pytest.mark.realdata
def test_torch_divergence_keeps_last_and_best(tmp_path: Path) -> None:
    proc = run("sepconv-torch", "fit", "--model.lr", "2", *SHORT, "--trainer.default_root_dir", tmp_path)
    epoch = diverged(proc, "sepconv-torch")
    assert epoch >= 2, "the recipe must train at least one good epoch for this test to mean anything"
    ckpts = tmp_path / "lightning_logs" / "version_0" / "checkpoints"
    last = torch.load(ckpts / "last.ckpt", weights_only=True)
    assert finite(last["state_dict"]) and last["epoch"] < epoch - 1  # an epoch before the divergence
    (best,) = ckpts.glob("best-*.ckpt")
    assert "nan" not in best.name and finite(torch.load(best, weights_only=True)["state_dict"])
    assert f"kept: last {ckpts / 'last.ckpt'}, best {best}" in proc.stderr


@pytest.mark.slow
@pytest.mark.realdata
def test_torch_immediate_divergence_writes_nothing(tmp_path: Path) -> None:
    proc = run("sepconv-torch", "fit", "--model.lr", "1000", *SHORT, "--trainer.default_root_dir", tmp_path)
    diverged(proc, "sepconv-torch")
    assert "no checkpoint had been written" in proc.stderr and not list(tmp_path.glob("**/*.ckpt"))


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("lr", ["2", "1000"])
def test_keras_divergence_keeps_best(tmp_path: Path, lr: str) -> None:
    import keras

    args = keras_train(None, tmp_path, "--lr", lr, "--epochs", "8", "--steps-per-epoch", "2")
    proc = run("sepconv-keras", *args)
    diverged(proc, "sepconv-keras")
    out = tmp_path / "out"
    assert not (out / "test_metrics.json").exists()
    assert (out / "metrics.csv").is_file()  # the curves of the epochs before
    if lr == "2":
        assert (out / "best.keras").exists(), "the recipe must train at least one good epoch"
    if (out / "best.keras").exists():
        assert f"kept: best {out / 'best.keras'}" in proc.stderr
        model = keras.models.load_model(out / "best.keras", safe_mode=True, compile=False)
        assert all(np.isfinite(w).all() for w in model.get_weights())
    else:
        assert "no checkpoint had been written" in proc.stderr
