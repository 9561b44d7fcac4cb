"""``BatchMean``: an epoch mean that a training step updates with two in-place additions.

The LightningModule logs its loss and accuracy as torchmetrics metrics, so Lightning computes them at
the epoch's end and, under DDP, sums their states over all ranks first. torchmetrics' ``MeanMetric``
checks every update for NaN and broadcasts its weight, and ``MulticlassAccuracy`` counts true and
false positives per class; together about 0.2 ms of Python and small kernels per training step, a
third of a one-layer model's whole step without the Trainer (docs/performance.md has the numbers).
A training step needs neither: the loss of a batch is one number and top-1 accuracy is a count of
correct predictions.

``BatchMean`` holds the sum of the batches' values and the number of samples, adds to both in place
and computes their ratio: for the loss, ``sum(mean_loss * n) / sum(n)`` rounded as ``MeanMetric``
rounds it; for accuracy, ``correct / count`` from exact integer counts, as ``MulticlassAccuracy``'s
micro average divides them (``tests/test_metrics.py`` checks both bit for bit).
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

__all__ = ["BatchMean"]

#: attributes torchmetrics' update wrapper sets on every call: plain values, never parameters,
#: buffers or submodules, so ``nn.Module.__setattr__``'s checks are skipped for them
_BOOKKEEPING = frozenset({"_computed", "_update_count"})


class BatchMean(Metric):
    """Mean over samples of per-batch totals: ``update(total, count)``, ``compute() = sum / count``.

    Args:
        dtype: of the running total: ``float32`` for a summed loss (as ``MeanMetric``), ``int64`` for
            a count of correct predictions (exact at any size). The sample count is always ``int64``.

    Under DDP both states are summed over the ranks (``dist_reduce_fx="sum"``), so the epoch value
    weighs every rank's samples, also when the shards differ in size.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None

    total: torch.Tensor
    count: torch.Tensor

    def __init__(self, dtype: torch.dtype = torch.float32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.zeros((), dtype=dtype), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _BOOKKEEPING:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def update(self, total: torch.Tensor, count: int) -> None:
        """Add a batch: ``total`` a 0-d tensor (its summed value), ``count`` its number of samples."""
        self.total.add_(total.to(self.total.dtype))  # a float64 loss (precision 64) into float32
        self.count.add_(count)

    def compute(self) -> torch.Tensor:
        """``total / count`` in the default float dtype (``nan`` before any sample)."""
        return self.total / self.count
