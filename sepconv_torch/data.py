"""``FashionMNISTDataModule``: the shared splits (:func:`sepconv.data.load_splits`) for Lightning."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import numpy as np
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import v2

from sepconv.data import FashionMNISTSplits, find_data_dir, load_splits

__all__ = ["ArrayDataset", "EpochSampler", "FashionMNISTDataModule", "train_augmentation"]


class ArrayDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Images ``(N, 1, 28, 28)`` float32 and labels ``(N,)`` int64, with an optional per-sample transform."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[index]
        return (self.transform(x) if self.transform is not None else x), self.labels[index]


def train_augmentation(background: float, pad: int = 2) -> v2.Compose:
    """Horizontal flip and a random ``pad``-pixel shift, padding with the standardised black value.

    Keras counterpart: ``RandomFlip("horizontal")`` and ``RandomTranslation`` (see
    :mod:`sepconv_keras.augment`).
    """
    return v2.Compose([v2.RandomHorizontalFlip(), v2.RandomCrop(28, padding=pad, fill=background)])


class EpochSampler(DistributedSampler):
    """This rank's shard of a permutation drawn from ``(seed, epoch)``; also seeds the augmentation draws.

    Lightning calls :meth:`set_epoch` before every training epoch, also after resuming from a
    checkpoint, so epoch ``e`` sees the same samples, in the same order, with the same random
    flips and shifts, however the run got there. The augmentation draws (torch's global RNG in
    the main process; the DataLoader ``generator``, which seeds worker processes) are seeded from
    ``(seed, epoch, rank)``. With one process it is a seeded per-epoch shuffle.
    """

    def __init__(
        self, dataset: Dataset, num_replicas: int, rank: int, seed: int, generator: torch.Generator
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.generator = generator
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        draws = int(np.random.SeedSequence([self.seed, epoch, self.rank]).generate_state(1, np.uint64)[0])
        self.generator.manual_seed(draws)
        torch.manual_seed(draws)


class FashionMNISTDataModule(L.LightningDataModule):
    """55,000 / 5,000 / 10,000 standardised Fashion-MNIST images, ``(1, 28, 28)`` float32 each.

    Args:
        data_dir: where the four ``.gz`` files are, used alone (missing files are downloaded there or
            refused); ``None``: ``$SEPCONV_DATA_DIR``, else the usual places (see :mod:`sepconv.data.locate`).
        batch_size: training batch size (the reference: 32).
        eval_batch_size: batch size for validation, test and predict (does not change results).
        num_workers: DataLoader workers.
        seed: seeds the training shuffle and the augmentation draws, per epoch (see :class:`EpochSampler`).
        augment: random horizontal flip and 2-pixel shift of training images (the ``tuned`` recipe).
        download: allow downloading the files when no directory holds them.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 500,
        num_workers: int = 0,
        seed: int = 0,
        augment: bool = False,
        download: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, received {name}={value}")
        self.save_hyperparameters()
        self.splits: FashionMNISTSplits | None = None
        self.datasets: dict[str, ArrayDataset] = {}

    def prepare_data(self) -> None:
        """Locate the files, downloading them (verified) if no directory holds them."""
        find_data_dir(self.hparams.data_dir, download=self.hparams.download)

    def setup(self, stage: str | None = None) -> None:
        """Verify, parse, split and standardise (cached: the arrays are built once per process)."""
        if self.splits is not None:
            return
        self.splits = load_splits(self.hparams.data_dir, download=False)
        transform = train_augmentation(self.splits.background) if self.hparams.augment else None
        for split in ("train", "val", "test"):
            images = torch.from_numpy(self.splits.images(split, "NCHW"))
            labels = torch.from_numpy(self.splits.labels(split))
            self.datasets[split] = ArrayDataset(images, labels, transform if split == "train" else None)

    def _replicas(self) -> tuple[int, int]:
        """``(world_size, global_rank)`` of the attached trainer; ``(1, 0)`` without one."""
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        if not self.datasets:
            raise RuntimeError("FashionMNISTDataModule: call setup() before asking for a dataloader")
        dataset = self.datasets[split]
        world, rank = self._replicas()
        generator: torch.Generator | None = None
        sampler: Sampler | None = None
        if shuffle:
            generator = torch.Generator()
            sampler = EpochSampler(dataset, world, rank, self.hparams.seed, generator)
        elif world > 1:  # evaluate every sample exactly once (no padding), metrics synced by torchmetrics
            sampler = UnrepeatedDistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size if split == "train" else self.hparams.eval_batch_size,
            sampler=sampler,
            generator=generator,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
