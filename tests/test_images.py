"""Your own images: any PNG/JPEG becomes a 28x28 grey, centred, standardised Fashion-MNIST input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sepconv.errors import InputError
from sepconv.images import load_image, load_image_folder


def test_colour_non_square_image_is_fitted_and_centred(tmp_path: Path) -> None:
    img = np.zeros((40, 80, 3), dtype=np.uint8)
    img[:, :, 1] = 255  # bright green, wider than high
    Image.fromarray(img).save(tmp_path / "wide.png")
    x = load_image(tmp_path / "wide.png")
    assert x.shape == (28, 28) and x.dtype == np.uint8
    rows = np.flatnonzero(x.max(axis=1) > 0)
    assert x[14, 14] > 100 and x[0, 14] == 0 and 13 <= len(rows) <= 15  # 80x40 -> 28x14, centred on black


def test_a_28x28_grey_image_is_unchanged(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), pixels)
    files, x = load_image_folder(tmp_path, mean=10.0, std=2.0)
    assert [f.name for f in files] == ["a.png"] and x.dtype == np.float32
    np.testing.assert_allclose(x[0], (pixels - 10.0) / 2.0, rtol=1e-6)


def test_refusals_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder of images"):
        load_image_folder(tmp_path / "missing", 0.0, 1.0)
    with pytest.raises(InputError, match="no image files"):
        load_image_folder(tmp_path, 0.0, 1.0)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"broken\.png: not a readable PNG/JPEG image"):
        load_image_folder(tmp_path, 0.0, 1.0)


def test_a_16_bit_grey_png_is_rescaled_not_clipped(tmp_path: Path) -> None:
    eight = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(eight.astype(np.uint16) * 257).save(tmp_path / "deep.png")  # 16-bit, same image
    with Image.open(tmp_path / "deep.png") as img:
        assert img.mode.startswith("I")  # what PIL makes of a 16-bit PNG
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png"), eight)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_are_black_background(tmp_path: Path, mode: str) -> None:
    """A garment cut out on a transparent background whose hidden colour is white."""
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white where transparent
    rgba[8:20, 8:20] = (120, 120, 120, 255)  # an opaque grey square
    img = Image.fromarray(rgba, mode="RGBA")
    if mode == "LA":
        img = img.convert("LA")
    if mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)  # loses alpha: give the white index to tRNS
        img.info["transparency"] = img.getpixel((0, 0))
    img.save(tmp_path / "cut-out.png")
    x = load_image(tmp_path / "cut-out.png")
    assert x[0, 0] == 0 and x[27, 27] == 0 and 110 <= x[14, 14] <= 130


def test_a_photo_s_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[2:10, 2:26] = 200  # a bar across the top, as the camera's sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "photo.png", exif=exif)
    x = load_image(tmp_path / "photo.png")
    np.testing.assert_array_equal(x, np.rot90(pixels, k=-1))  # the bar stands on the right
