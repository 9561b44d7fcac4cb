"""``BatchMean`` gives torchmetrics' ``MeanMetric`` and micro ``MulticlassAccuracy`` values bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from sepconv_torch import SepConvLitModule
from sepconv_torch.metrics import BatchMean


def _batches(sizes: list[int], seed: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(logits, labels, mean loss)`` per batch; the logits rounded to a coarse grid, so rows have ties."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        logits = (torch.randn(n, 10, generator=g) * 2).round()
        labels = torch.randint(0, 10, (n,), generator=g)
        out.append((logits, labels, torch.nn.functional.cross_entropy(logits, labels)))
    return out


SIZES = [[32] * 20 + [24], [1], [500, 500, 7], [3, 64, 2, 31]]


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: f"{len(s)}batches")
def test_loss_equals_mean_metric_bit_for_bit(sizes: list[int]) -> None:
    ours, theirs = BatchMean(), MeanMetric()
    for _, labels, loss in _batches(sizes, seed=len(sizes)):
        ours.update(loss * len(labels), len(labels))
        theirs.update(loss, weight=len(labels))
    assert ours.compute().dtype == theirs.compute().dtype == torch.float32
    assert torch.equal(ours.compute(), theirs.compute())


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: f"{len(s)}batches")
def test_accuracy_equals_micro_multiclass_accuracy_bit_for_bit(sizes: list[int]) -> None:
    ours, theirs = BatchMean(torch.int64), MulticlassAccuracy(10, average="micro")
    for logits, labels, _ in _batches(sizes, seed=7 + len(sizes)):
        ours.update((logits.argmax(dim=-1) == labels).sum(), len(labels))
        theirs.update(logits, labels)
    assert ours.compute().dtype == theirs.compute().dtype == torch.float32
    assert torch.equal(ours.compute(), theirs.compute())


def test_states_sum_across_ranks_and_reset() -> None:
    """Two shards of different sizes merged (what DDP's sync does with ``dist_reduce_fx="sum"``)
    equal one metric over all samples; ``reset`` starts a new epoch from zero."""
    batches = _batches([32, 32, 5, 17], seed=3)
    whole, rank0, rank1 = BatchMean(), BatchMean(), BatchMean()
    for i, (_, labels, loss) in enumerate(batches):
        whole.update(loss * len(labels), len(labels))
        (rank0 if i < 3 else rank1).update(loss * len(labels), len(labels))
    rank0.merge_state(rank1)
    assert torch.equal(rank0.compute(), whole.compute())
    assert int(rank0.count) == 86
    whole.reset()
    assert int(whole.count) == 0 and float(whole.total) == 0.0


def test_a_float64_loss_adds_into_the_float32_total() -> None:
    """``Trainer(precision="64")`` computes the loss in float64; the state stays float32 as MeanMetric's."""
    metric = BatchMean()
    metric.update(torch.tensor(0.5, dtype=torch.float64) * 4, 4)
    assert metric.total.dtype == torch.float32 and float(metric.compute()) == 0.5


def test_module_setattr_fast_path_keeps_nn_module_semantics() -> None:
    """Only Lightning's hook-name bookkeeping skips ``nn.Module.__setattr__``: submodules and
    parameters assigned later still register."""
    module = SepConvLitModule(net=nn.Linear(784, 10), channels_last=False)
    module._current_fx_name = "training_step"
    assert module._current_fx_name == "training_step" and "_current_fx_name" not in module._modules
    module.extra = nn.Linear(2, 2)
    module.scale = nn.Parameter(torch.ones(1))
    assert "extra" in module._modules and "scale" in module._parameters
    assert any(name == "scale" for name, _ in module.named_parameters())
