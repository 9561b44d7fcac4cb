"""Test accuracy of a checkpoint with and without horizontal-flip test-time augmentation.

Usage: python scripts/flip_tta.py CHECKPOINT.ckpt
Prints the plain accuracy and that of averaged probabilities over each test image and its mirror image.
"""

from __future__ import annotations

import sys

import torch

from sepconv.data import load_splits
from sepconv_torch import SepConvLitModule


def main(checkpoint: str) -> None:
    module = SepConvLitModule.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    splits = load_splits(download=False)
    x, y = torch.from_numpy(splits.images("test", "NCHW")), torch.from_numpy(splits.labels("test"))
    with torch.inference_mode():
        plain = torch.cat([module(x[i : i + 500]).softmax(-1) for i in range(0, len(x), 500)])
        mirror = torch.cat([module(x[i : i + 500].flip(-1)).softmax(-1) for i in range(0, len(x), 500)])
    accuracy = {
        "plain": plain.argmax(1),
        "mirror only": mirror.argmax(1),
        "flip TTA": (plain + mirror).argmax(1),
    }
    print(", ".join(f"{name} {(pred == y).float().mean():.4f}" for name, pred in accuracy.items()))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/flip_tta.py CHECKPOINT.ckpt")
    main(sys.argv[1])
