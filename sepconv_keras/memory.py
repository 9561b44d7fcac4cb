"""Refusing a Keras training batch that cannot fit in this machine's memory, before TensorFlow dies of it.

On the CPU TensorFlow does not report running out of memory: the operating system kills the process, or it
crashes (a batch of all 55,000 training images on a 24 GiB machine: a segmentation fault). A training
step of the reference model holds about :data:`TRAIN_BYTES_PER_SAMPLE` bytes per image of the batch, on top
of :data:`RESERVE_BYTES` for TensorFlow itself and the data set (README "Failure behaviour" has the
measurement), so a batch that needs more than the memory available now is refused, with the largest batch
that fits. Where the available memory cannot be read (not Linux), nothing is checked.
"""

from __future__ import annotations

from sepconv.memory import TrainingMemory, available_memory

__all__ = ["KERAS_CPU", "RESERVE_BYTES", "TRAIN_BYTES_PER_SAMPLE", "available_memory", "check_batch_fits"]

#: resident memory Keras training on the CPU adds per image of the batch (TensorFlow 2.21; rounded up)
TRAIN_BYTES_PER_SAMPLE = 800_000
#: TensorFlow's runtime, the model and the standardised data set, whatever the batch
RESERVE_BYTES = 3 * 2**29  # 1.5 GiB


#: the linear model of :mod:`sepconv.memory`, shared with sepconv-torch
KERAS_CPU = TrainingMemory(
    RESERVE_BYTES,
    TRAIN_BYTES_PER_SAMPLE,
    what="Keras training on the CPU",
    consequence="TensorFlow would be killed or crash instead of saying so",
)


def check_batch_fits(batch_size: int, available: int | None = None) -> None:
    """``InputError`` if a CPU training step at ``batch_size`` needs more than ``available`` bytes
    (default: :func:`available_memory`)."""
    KERAS_CPU.check(batch_size, "--batch-size", available_memory() if available is None else available)
