"""``FashionMNISTDataModule``: the shared splits (:func:`sepconv.data.load_splits`) for Lightning."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from sepconv.data import FashionMNISTSplits, find_data_dir, load_splits
from sepconv.data.present import as_nchw, present
from sepconv.data.splits import NUM_TRAIN
from sepconv.images import load_image_folder

__all__ = [
    "ArrayDataset",
    "EpochSampler",
    "FashionMNISTDataModule",
    "FlipShift",
    "keep_batch",
    "train_augmentation",
]


class FlipShift:
    """Random horizontal flip (p = 0.5) and a random shift of up to ``pad`` pixels, for a whole batch.

    Input and output ``(B, C, H, W)``. The same distribution as torchvision's per-sample
    ``RandomHorizontalFlip()`` + ``RandomCrop(H, padding=pad, fill=background)``: the image is padded
    with ``background`` (the standardised black) and a window is cut at offsets drawn uniformly
    from ``0..2*pad``. Keras counterpart: ``RandomFlip("horizontal")`` and ``RandomTranslation``
    (:mod:`sepconv_keras.data`). Draws come from ``generator`` (CPU), so they are seeded per epoch
    by :class:`EpochSampler` and do not depend on where the images live.
    """

    def __init__(self, background: float, pad: int = 2, generator: torch.Generator | None = None) -> None:
        if pad < 0:
            raise ValueError(f"pad must be >= 0, received pad={pad}")
        self.background, self.pad = float(background), pad
        self.generator = generator if generator is not None else torch.Generator()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        g, pad = self.generator, self.pad
        flip = (torch.rand(b, generator=g) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if pad == 0:
            return x
        padded = F.pad(x, (pad, pad, pad, pad), value=self.background)
        top = torch.randint(0, 2 * pad + 1, (b,), generator=g).to(x.device)
        left = torch.randint(0, 2 * pad + 1, (b,), generator=g).to(x.device)
        rows = (top[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
        cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
        batch = torch.arange(b, device=x.device)[:, None, None, None]
        channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        return padded[batch, channel, rows, cols]


class ArrayDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Images ``(N, 1, 28, 28)`` float32 and labels ``(N,)`` int64, served a whole batch at a time.

    ``DataLoader`` calls :meth:`__getitems__` with a batch's indices: one gather of the images and
    labels (on whatever device they live) and one call of ``augment`` on the batch, instead of a
    Python call and a ``collate`` per sample. Use it with ``collate_fn=keep_batch``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.augment = images, labels, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.labels.device)
        x = self.images[idx]
        return (self.augment(x) if self.augment is not None else x), self.labels[idx]


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``collate_fn`` for :class:`ArrayDataset`: its ``__getitems__`` already returns the batch."""
    return batch


def train_augmentation(
    background: float, pad: int = 2, generator: torch.Generator | None = None
) -> FlipShift:
    """The ``tuned`` recipe's augmentation: :class:`FlipShift` with the standardised black as padding."""
    return FlipShift(background, pad, generator)


class EpochSampler(DistributedSampler):
    """This rank's shard of a permutation drawn from ``(seed, epoch)``; also seeds the augmentation draws.

    Lightning calls :meth:`set_epoch` before every training epoch, also after resuming from a
    checkpoint, so epoch ``e`` sees the same samples, in the same order, with the same random
    flips and shifts, however the run got there. Each of ``generators`` (the one
    :class:`FlipShift` draws from, and the DataLoader's, which seeds worker processes) gets its own
    stream seeded from ``(seed, epoch, rank)``; they are separate so that creating an extra
    iterator (one draw from the DataLoader's) cannot shift the augmentation. With one process it is
    a seeded per-epoch shuffle.
    """

    def __init__(
        self, dataset: Dataset, num_replicas: int, rank: int, seed: int, *generators: torch.Generator
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.generators = generators
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        states = np.random.SeedSequence([self.seed, epoch, self.rank]).generate_state(
            len(self.generators), np.uint64
        )
        for generator, state in zip(self.generators, states, strict=True):
            generator.manual_seed(int(state))


class FashionMNISTDataModule(L.LightningDataModule):
    """55,000 / 5,000 / 10,000 standardised Fashion-MNIST images, ``(1, 28, 28)`` float32 each.

    Args:
        data_dir: where the four ``.gz`` files are, used alone (missing files are downloaded there or
            refused); ``None``: ``$SEPCONV_DATA_DIR``, else the usual places (see :mod:`sepconv.data.locate`).
        batch_size: training batch size (the reference: 32).
        eval_batch_size: batch size for validation, test and predict (does not change results).
        num_workers: DataLoader workers (0, the default, is fastest: a batch is one gather; exact
            resume of augmented runs needs 0).
        seed: seeds the training shuffle and the augmentation draws, per epoch (see :class:`EpochSampler`).
        augment: random horizontal flip and 2-pixel shift of training images (the ``tuned`` recipe).
        download: allow downloading the files when no directory holds them.
        predict_dir: a folder of your own PNG/JPEG images for ``predict`` (instead of the test split);
            they are made 28x28 grey as Fashion-MNIST (:mod:`sepconv.images`) and standardised with the
            statistics stored in the checkpoint.

    The images are presented to the attached model's ``input_shape`` ``(H, W, C)``
    (:func:`sepconv.data.present.present`: padded with black or area-resized, grey repeated to ``C``;
    the same arrays Keras gets); a model without ``input_shape``, or none attached, gets ``(28, 28, 1)``.
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
        predict_dir: str | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, received {name}={value}")
        if batch_size > NUM_TRAIN:
            raise ValueError(
                f"batch_size must be at most {NUM_TRAIN} (the training split's size), received "
                f"batch_size={batch_size}"
            )
        self.save_hyperparameters()
        self.splits: FashionMNISTSplits | None = None
        self.datasets: dict[str, ArrayDataset] = {}

    def prepare_data(self) -> None:
        """Locate the files, downloading them (verified) if no directory holds them."""
        find_data_dir(self.hparams.data_dir, download=self.hparams.download)

    def setup(self, stage: str | None = None) -> None:
        """Verify, parse, split and standardise (cached: the arrays are built once per process).

        On a GPU the whole data set (220 MB in float32) is moved to the device once, and batches are
        gathered (and augmented) there; on the CPU the tensors share the NumPy arrays' memory.
        """
        if self.splits is not None:
            return
        self.splits = load_splits(self.hparams.data_dir, download=False)
        device = self.data_device()
        augment = train_augmentation(self.splits.background) if self.hparams.augment else None
        for split in ("train", "val", "test"):
            images = self._presented(self.splits.images(split), self.splits.background).to(device)
            labels = torch.from_numpy(self.splits.labels(split)).to(device)
            self.datasets[split] = ArrayDataset(images, labels, augment if split == "train" else None)

    def input_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of the attached model's input (``input_shape``), else ``(28, 28, 1)``."""
        model = self.trainer.lightning_module if self.trainer is not None else None
        return tuple(getattr(model, "input_shape", (28, 28, 1)))  # type: ignore[return-value]

    def _presented(self, images: np.ndarray, background: float) -> torch.Tensor:
        """Standardised ``(N, 28, 28, 1)`` images as the model's ``(N, C, H, W)`` input: a view of the NHWC
        array that Keras gets (``background``: the standardised black)."""
        return torch.from_numpy(as_nchw(present(images, self.input_shape(), background)))

    def data_device(self) -> torch.device:
        """Where the data set lives: the trainer's device when it is an accelerator, else the CPU."""
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        return device if device.type in ("cuda", "mps", "xpu") else torch.device("cpu")

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
            augment = [dataset.augment.generator] if isinstance(dataset.augment, FlipShift) else []
            sampler = EpochSampler(dataset, world, rank, self.hparams.seed, generator, *augment)
        elif world > 1:  # evaluate every sample exactly once (no padding), metrics synced by torchmetrics
            sampler = UnrepeatedDistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size if split == "train" else self.hparams.eval_batch_size,
            sampler=sampler,
            generator=generator,
            collate_fn=keep_batch,
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
        if self.hparams.predict_dir is None:
            return self._loader("test")
        mean, std = self.standardisation()
        self.predict_files, pixels = load_image_folder(self.hparams.predict_dir, mean, std)
        background = float(np.float32((0.0 - mean) / std))  # as FashionMNISTSplits.background
        images = self._presented(pixels[..., None], background).to(self.data_device())
        labels = torch.full((len(images),), -1, dtype=torch.int64, device=images.device)
        self.datasets["predict"] = ArrayDataset(images, labels)
        return self._loader("predict")

    def standardisation(self) -> tuple[float, float]:
        """``(mean, std)`` of the raw training pixels: the checkpoint's, else the data set's."""
        stored = getattr(self.trainer.lightning_module, "standardisation", None) if self.trainer else None
        if stored is not None:
            return stored
        if self.splits is None:
            self.setup("predict")
        return self.splits.mean, self.splits.std

    def predict_labels(self) -> np.ndarray | None:
        """The true labels of what ``predict`` sees: the test split's, or ``None`` for your own images."""
        if self.hparams.predict_dir is not None or "test" not in self.datasets:
            return None
        return self.datasets["test"].labels.cpu().numpy()
