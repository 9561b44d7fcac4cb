"""SepConvLitModule: the per-step schedule it gives the optimizer, and what predict returns."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from sepconv.schedule import lr_factor
from sepconv_torch import FashionMNISTDataModule, SepConvLitModule

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


class _RecordLR(L.Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.parametrize(("schedule", "warmup_epochs"), [("constant", 0.0), ("cosine", 1.0)])
def test_learning_rate_per_step(schedule: str, warmup_epochs: float) -> None:
    record = _RecordLR()
    trainer = L.Trainer(
        max_epochs=2,
        limit_train_batches=5,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[record],
    )
    model = SepConvLitModule(
        lr=0.05, momentum=0.9, nesterov=True, schedule=schedule, warmup_epochs=warmup_epochs
    )
    trainer.fit(model, FashionMNISTDataModule(batch_size=8))
    expected = [0.05 * lr_factor(step, schedule, 10, 5 if schedule == "cosine" else 0) for step in range(10)]
    assert record.lrs == pytest.approx(expected, abs=1e-12)
    assert trainer.global_step == 10


def test_predict_step_returns_probabilities() -> None:
    model = SepConvLitModule()
    probs = model.predict_step((torch.randn(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)), 0)
    assert probs.shape == (4, 10)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0}, "lr must be positive, received lr=0"),
        ({"momentum": 1.5}, r"momentum must be in \[0, 1\), received momentum=1\.5"),
        ({"schedule": "cosin"}, "schedule must be one of 'constant', 'cosine', received schedule='cosin'"),
        ({"initializer": "he"}, "initializer must be one of 'glorot_uniform'"),
        ({"warmup_epochs": -1.0}, "warmup_epochs must be >= 0"),
    ],
)
def test_bad_arguments_named(kwargs: dict, message: str) -> None:
    """The recipes' rules check the module's arguments too (command-line values included)."""
    with pytest.raises(ValueError, match=message):
        SepConvLitModule(**kwargs)


def test_summary_shows_shapes_and_flops() -> None:
    """``example_input_array`` gives the summary its shapes and FLOPs (8.13 M per image, forward)."""
    from lightning.pytorch.utilities.model_summary import ModelSummary

    summary = ModelSummary(SepConvLitModule(), max_depth=1)
    assert summary.total_flops == 8_131_200
    assert "[1, 1, 28, 28]" in str(summary) and "[1, 10]" in str(summary)
