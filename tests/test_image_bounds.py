"""Your own images: one too large to decode is refused by name; up to the bound, decoded quietly."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from sepconv.errors import InputError
from sepconv.images import load_image, load_image_folder


def png_header_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` 1-bit pixels: what a decompression bomb shows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


def test_an_image_over_the_bound_is_refused_by_name(tmp_path: Path) -> None:
    path = png_header_claiming(tmp_path / "huge.png", 20_000, 20_000)
    with pytest.raises(InputError) as refused:
        load_image(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: 400,000,000 pixels, more than the 178,956,970 ")
    assert "scale it down first" in message and "\n" not in message


def test_the_folder_reader_names_the_file(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("L", (40, 30), 200).save(tmp_path / "a.png")
    png_header_claiming(tmp_path / "b.png", 30_000, 10_000)
    with pytest.raises(InputError, match=r"b\.png: 300,000,000 pixels, more than"):
        load_image_folder(tmp_path, 72.9, 90.0)


def test_the_bound_holds_where_pils_own_limit_was_lifted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    path = png_header_claiming(tmp_path / "huge.png", 20_000, 20_000)
    with pytest.raises(
        InputError, match=r"huge\.png: 20000x20000 pixels \(400,000,000\), more than the 178,956,970"
    ):
        load_image(path)


@pytest.mark.slow
def test_an_image_between_pils_warning_and_the_bound_is_read_without_a_warning(tmp_path: Path) -> None:
    """PIL warns from 89 Mpx on ("could be decompression bomb"): such an image is within the bound."""
    from PIL import Image

    path = tmp_path / "large.png"
    Image.new("1", (10_000, 9_000), 0).save(path)  # 90 Mpx, a 10 KB file
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pixels = load_image(path)
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8 and not pixels.any()


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("prog", ["sepconv-torch", "sepconv-keras"])
def test_both_predict_commands_refuse_it_in_one_line(tmp_path: Path, prog: str) -> None:
    import zipfile

    import torch
    from commands import assert_refused, run
    from test_torch_checkpoint_contents import lightning_checkpoint

    images = tmp_path / "images"
    images.mkdir()
    huge = png_header_claiming(images / "huge.png", 20_000, 20_000)
    out = tmp_path / "out"
    if prog == "sepconv-torch":
        ckpt = tmp_path / "model.ckpt"
        torch.save(lightning_checkpoint(sepconv_standardisation={"mean": 72.9, "std": 90.0}), ckpt)
        args = ["predict", "--ckpt_path", ckpt, "--data.predict_dir", images, "--predictions.output_dir", out]
    else:
        model = tmp_path / "model.keras"
        zipfile.ZipFile(model, "w").close()  # refused later, if the images passed
        args = ["predict", model, "--images", images, "--output-dir", out]
    assert_refused(run(prog, *args), prog, f"{huge}: 400,000,000 pixels, more than the 178,956,970")
    assert not list(tmp_path.rglob("predictions.*"))
