"""What the four Fashion-MNIST files must contain.

Checksums are of the *decompressed* IDX content: Debian's
``dataset-fashion-mnist`` re-compressed the ``.gz`` files, so their MD5 sums
differ from upstream's while the content is byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FILES", "IdxFile"]


@dataclass(frozen=True)
class IdxFile:
    """One IDX file: its name, role and expected decompressed content."""

    key: str  # train_images, train_labels, test_images, test_labels
    filename: str  # the .gz name, as published upstream
    shape: tuple[int, ...]
    nbytes: int  # decompressed size
    sha256: str  # of the decompressed content


FILES: tuple[IdxFile, ...] = (
    IdxFile(
        "train_images",
        "train-images-idx3-ubyte.gz",
        (60000, 28, 28),
        47_040_016,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    IdxFile(
        "train_labels",
        "train-labels-idx1-ubyte.gz",
        (60000,),
        60_008,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    IdxFile(
        "test_images",
        "t10k-images-idx3-ubyte.gz",
        (10000, 28, 28),
        7_840_016,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    IdxFile(
        "test_labels",
        "t10k-labels-idx1-ubyte.gz",
        (10000,),
        10_008,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
)
