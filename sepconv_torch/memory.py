"""Refusing a ``sepconv-torch fit`` batch that cannot fit in this machine's memory, before training starts.

On the CPU PyTorch does not report running out of host memory: the operating system kills the process
without a message (``--data.batch_size 55000``, all of the training split, on a 24 GiB machine: killed
after 88 s). The estimate is :class:`sepconv.memory.TrainingMemory`'s linear model, shared with
``sepconv-keras``::

    need = processes * (RESERVE_BYTES + batch_size * TRAIN_BYTES_PER_SAMPLE)

with :data:`RESERVE_BYTES` = 1.5 GiB (Python, torch, Lightning, the model and the standardised data
set) and :data:`TRAIN_BYTES_PER_SAMPLE` = 750,000 bytes per image of the training batch (activations,
their gradients, the allocator's slack), both rounded up from the peak RSS of one-step runs at batch
sizes 256 to 8192 (``benchmarks/torch_memory.py``; docs/failures.md has the table), which the model
over-estimates by 7-11 %.
``processes`` is the number of training processes on this machine (``--trainer.devices`` under DDP):
each holds its own data set and batch. The validation batch (``--data.eval_batch_size``) runs in
chunks without gradients and is not counted. Only CPU training is checked (on a GPU, CUDA reports its
own out-of-memory error), and only by the launching process (local rank 0).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.accelerators import CPUAccelerator

from sepconv.memory import GIB, TrainingMemory, available_memory

__all__ = ["RESERVE_BYTES", "TORCH_CPU", "TRAIN_BYTES_PER_SAMPLE", "check_fit_memory"]

#: resident memory a PyTorch training step on the CPU adds per image of the batch (torch 2.x; rounded up)
TRAIN_BYTES_PER_SAMPLE = 750_000
#: what a training process holds whatever the batch
RESERVE_BYTES = 3 * GIB // 2

TORCH_CPU = TrainingMemory(
    RESERVE_BYTES,
    TRAIN_BYTES_PER_SAMPLE,
    what="PyTorch training on the CPU",
    consequence="the operating system would kill the process without a message",
)


def check_fit_memory(trainer: L.Trainer, datamodule: Any, available: int | None = None) -> None:
    """``InputError`` naming ``--data.batch_size`` if ``trainer`` training on the CPU at the datamodule's
    batch size needs more than ``available`` bytes (default: ``MemAvailable``; unknown: no check)."""
    if not isinstance(trainer.accelerator, CPUAccelerator) or trainer.local_rank != 0:
        return
    batch_size = int(datamodule.hparams.batch_size)
    available = available_memory() if available is None else available
    TORCH_CPU.check(batch_size, "--data.batch_size", available, processes=trainer.num_devices)
