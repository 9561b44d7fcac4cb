"""The LightningDataModule and the Keras pipeline receive the same bits from the one shared source."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sepconv_keras.data import make_dataset
from sepconv_torch import FashionMNISTDataModule
from sepconv_torch.data import FlipShift

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def datamodule() -> FashionMNISTDataModule:
    dm = FashionMNISTDataModule()  # no arguments: finds the data by itself
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_sizes_and_sample_shape(datamodule: FashionMNISTDataModule) -> None:
    assert {k: len(v) for k, v in datamodule.datasets.items()} == {"train": 55000, "val": 5000, "test": 10000}
    x, y = datamodule.datasets["train"][0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    xb, yb = next(iter(datamodule.train_dataloader()))
    assert xb.shape == (32, 1, 28, 28) and yb.shape == (32,)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_bit_identical_arrays(datamodule: FashionMNISTDataModule, splits, split: str) -> None:
    """PyTorch NCHW and Keras NHWC hold the same float32 bit patterns, image for image."""
    torch_x = datamodule.datasets[split].images.numpy()
    keras_x = splits.images(split, "NHWC")
    assert torch_x.shape[1:] == (1, 28, 28) and keras_x.shape[1:] == (28, 28, 1)
    np.testing.assert_array_equal(torch_x.transpose(0, 2, 3, 1).view(np.uint32), keras_x.view(np.uint32))
    np.testing.assert_array_equal(datamodule.datasets[split].labels.numpy(), splits.labels(split))


def test_same_pairs_out_of_both_pipelines(datamodule: FashionMNISTDataModule, splits) -> None:
    """The first validation and test batches, as each framework's loader yields them."""
    for split, loader in (("val", datamodule.val_dataloader()), ("test", datamodule.test_dataloader())):
        tx, ty = next(iter(loader))
        kx, ky = next(iter(make_dataset(splits.images(split), splits.labels(split), len(ty))))
        np.testing.assert_array_equal(
            tx.numpy().transpose(0, 2, 3, 1).view(np.uint32), kx.numpy().view(np.uint32)
        )
        np.testing.assert_array_equal(ty.numpy(), ky.numpy())


def test_seeded_shuffle(datamodule: FashionMNISTDataModule) -> None:
    first = [next(iter(datamodule.train_dataloader()))[1] for _ in range(2)]
    assert torch.equal(first[0], first[1])  # the same seed gives the same first batch
    other = FashionMNISTDataModule(seed=1)
    other.setup("fit")
    assert not torch.equal(first[0], next(iter(other.train_dataloader()))[1])


def test_augmentation_only_on_train() -> None:
    dm = FashionMNISTDataModule(augment=True)
    dm.setup("fit")
    assert isinstance(dm.datasets["train"].augment, FlipShift)
    assert dm.datasets["val"].augment is None and dm.datasets["test"].augment is None
    x = dm.datasets["train"].__getitems__([0] * 20)[0]
    assert x.shape == (20, 1, 28, 28)
    assert len({t.numpy().tobytes() for t in x}) > 1  # random flips/shifts happen


def test_batches_are_gathers(datamodule: FashionMNISTDataModule) -> None:
    """Without augmentation a training batch is exactly the sampler's indices gathered."""
    loader = datamodule.train_dataloader()
    indices = list(loader.sampler)[:32]
    x, y = next(iter(loader))
    data = datamodule.datasets["train"]
    assert torch.equal(x, data.images[indices]) and torch.equal(y, data.labels[indices])
    assert datamodule.data_device() == torch.device("cpu")


def test_augmented_epochs_repeat_from_seed_and_epoch() -> None:
    """Epoch e's batches (order and augmentation draws) depend only on (seed, epoch)."""
    dm = FashionMNISTDataModule(augment=True, seed=3)
    dm.setup("fit")

    def first_batch(epoch: int) -> torch.Tensor:
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))[0]

    a1, b, a2 = first_batch(1), first_batch(2), first_batch(1)
    assert torch.equal(a1, a2) and not torch.equal(a1, b)


@pytest.mark.parametrize("name", ["batch_size", "eval_batch_size"])
def test_bad_batch_size_named(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a positive integer, received {name}=0"):
        FashionMNISTDataModule(**{name: 0})


def test_dataloader_before_setup_is_clear() -> None:
    with pytest.raises(RuntimeError, match="call setup"):
        FashionMNISTDataModule().train_dataloader()


def test_batch_larger_than_the_training_split_named() -> None:
    with pytest.raises(ValueError, match=r"batch_size must be at most 55000 \(the training split's size\)"):
        FashionMNISTDataModule(batch_size=55001)
    FashionMNISTDataModule(batch_size=55000)
