"""Batched flip-and-shift augmentation: torchvision's per-sample distribution, one call per batch."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from sepconv_torch.data import FlipShift


def test_each_image_is_a_flipped_or_plain_window_of_the_padded_image() -> None:
    x = torch.arange(4 * 2 * 6 * 5, dtype=torch.float32).reshape(4, 2, 6, 5)
    out = FlipShift(background=-1.0, pad=2, generator=torch.Generator().manual_seed(0))(x)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)
    for i in range(len(x)):
        windows = [
            padded[i, :, t : t + 6, left : left + 5].flip(-1)
            if flip
            else padded[i, :, t : t + 6, left : left + 5]
            for flip in (False, True)
            for t in range(5)
            for left in range(5)
        ]
        # flip-then-crop of the padded image == crop of the padded flipped image
        flipped = torch.nn.functional.pad(x[i : i + 1].flip(-1), (2, 2, 2, 2), value=-1.0)[0]
        windows += [flipped[:, t : t + 6, left : left + 5] for t in range(5) for left in range(5)]
        assert any(torch.equal(out[i], w) for w in windows), i


def test_distribution_matches_torchvision() -> None:
    """Flip rate 1/2 and every one of the 25 offsets, as RandomHorizontalFlip + RandomCrop(padding=2)."""
    x = torch.zeros(4000, 1, 28, 28)
    x[:, 0, 0, 0] = 1.0  # a marker at the top-left corner: its new position gives flip and offset
    out = FlipShift(background=0.0, generator=torch.Generator().manual_seed(1))(x)
    reference = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomCrop(28, padding=2, fill=0.0)])
    torch.manual_seed(1)
    ref = torch.stack([reference(img) for img in x])

    def positions(batch: torch.Tensor) -> torch.Tensor:
        flat = batch[:, 0].flatten(1)
        visible = flat.max(dim=1).values > 0
        return torch.bincount(flat[visible].argmax(dim=1), minlength=28 * 28).float() / len(batch)

    torch.testing.assert_close(positions(out), positions(ref), atol=0.02, rtol=0)
    assert (positions(out) > 0).sum() == (positions(ref) > 0).sum() == 18  # 3x3 top-left + 3x3 top-right


def test_bad_pad_is_named() -> None:
    with pytest.raises(ValueError, match="pad must be >= 0, received pad=-1"):
        FlipShift(0.0, pad=-1)
