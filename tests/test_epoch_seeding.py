"""Each epoch draws its own shuffle and augmentation, from (seed, epoch, ...), in both frameworks.

``sepconv_torch.data.EpochSampler`` seeds from ``(seed, epoch, rank)`` and ``sepconv_keras.data.
train_stream`` from ``(seed, epoch, batch)``. Dropping the epoch from either seed would give every
epoch the same augmentation (and, in Keras, the same order), which no other test notices: a training
run still trains and a resume is still exact. These tests see it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from sepconv.compat import import_tensorflow
from sepconv_torch.data import EpochSampler, FlipShift

N, BATCH = 64, 16


def _torch_epoch(sampler: EpochSampler, augment: FlipShift, loader: torch.Generator, epoch: int):
    """Epoch ``epoch``'s order, one augmented batch of an asymmetric image, and the loader's draw."""
    sampler.set_epoch(epoch)
    image = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 1, 28, 28).expand(BATCH, 1, 28, 28)
    return list(sampler), augment(image), torch.randint(0, 2**31, (1,), generator=loader).item()


def _torch_sampler(rank: int = 0) -> tuple[EpochSampler, FlipShift, torch.Generator]:
    augment, loader = FlipShift(background=0.0), torch.Generator()
    sampler = EpochSampler(TensorDataset(torch.arange(N)), 2, rank, 42, loader, augment.generator)
    return sampler, augment, loader


def test_torch_each_epoch_draws_its_own_augmentation() -> None:
    sampler, augment, loader = _torch_sampler()
    order0, batch0, seed0 = _torch_epoch(sampler, augment, loader, 0)
    order1, batch1, seed1 = _torch_epoch(sampler, augment, loader, 1)
    assert order0 != order1
    assert not torch.equal(batch0, batch1), "epoch 1 repeats epoch 0's flips and shifts"
    assert seed0 != seed1, "epoch 1's DataLoader (worker) seed repeats epoch 0's"
    again = _torch_epoch(sampler, augment, loader, 1)  # as after a resume at epoch 1
    assert again[0] == order1 and torch.equal(again[1], batch1) and again[2] == seed1


def test_torch_each_rank_draws_its_own_augmentation() -> None:
    (s0, a0, l0), (s1, a1, l1) = _torch_sampler(0), _torch_sampler(1)
    assert not torch.equal(_torch_epoch(s0, a0, l0, 3)[1], _torch_epoch(s1, a1, l1, 3)[1])


def _keras_batches(first_epoch: int, epochs: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``train_stream`` over ``N`` copies of one asymmetric image, labelled by index: a batch's labels
    show the epoch's order, its pixels only the augmentation draws."""
    import_tensorflow()
    from sepconv_keras.data import train_stream

    images = np.broadcast_to(np.arange(28 * 28, dtype=np.float32).reshape(1, 28, 28, 1), (N, 28, 28, 1))
    stream = train_stream(
        np.ascontiguousarray(images),
        np.arange(N, dtype=np.int64),
        BATCH,
        seed=42,
        first_epoch=first_epoch,
        epochs=epochs,
        steps=2,
        background=0.0,
    )
    return [(x.numpy(), y.numpy()) for x, y in stream]


@pytest.mark.slow  # imports TensorFlow
def test_keras_each_epoch_draws_its_own_order_and_augmentation() -> None:
    batches = _keras_batches(0, 2)  # epoch 0: batches 0, 1; epoch 1: batches 2, 3
    assert len(batches) == 4
    for b in (0, 1):
        (x0, y0), (x1, y1) = batches[b], batches[2 + b]
        assert not np.array_equal(y0, y1), f"batch {b} of epoch 1 repeats epoch 0's order"
        assert not np.array_equal(x0, x1), f"batch {b} of epoch 1 repeats epoch 0's flips and shifts"
    assert not np.array_equal(batches[0][0], batches[1][0])  # and each batch its own
    resumed = _keras_batches(1, 2)  # a run resumed at epoch 1 sees the same batches
    for (x, y), (xr, yr) in zip(batches[2:], resumed, strict=True):
        assert np.array_equal(x, xr) and np.array_equal(y, yr)
