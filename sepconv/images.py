"""Your own images as Fashion-MNIST inputs: a folder of PNG/JPEG files -> ``(N, 28, 28)`` standardised arrays.

Fashion-MNIST images are 28x28 grey, the garment bright and centred on a black background. Any image is
turned into that: turned upright as its EXIF orientation says (phone photos), converted to 8-bit grey
(``L``; 16-bit grey scaled by 255/65535 rather than clipped at 255, transparent pixels laid on black, the
background's colour), scaled so that its longer side is 28 pixels (aspect kept), centred on black, then
standardised with the training statistics, ``(pixel - mean) / std``. What the user must supply: one
garment per image on a dark, plain background (invert a photo of a garment on white paper first), roughly
filling the frame.

Any size up to :data:`MAX_PIXELS` (178,956,970 pixels, about 13,000 x 13,000: PIL's own limit against
decompression bombs, small files that claim enormous images) is read; a larger image is refused, named,
before it is decoded. PIL's warning from half that size on is not shown: such images are within the bound.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from sepconv.errors import InputError

__all__ = ["IMAGE_SUFFIXES", "MAX_PIXELS", "image_files", "load_image", "load_image_folder", "standardise"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SIZE = 28
#: the largest image read: PIL's default decompression-bomb error limit (``2 * Image.MAX_IMAGE_PIXELS``)
MAX_PIXELS = 178_956_970


def _too_large(path: str | os.PathLike[str], pixels: int, size: tuple[int, int] | None = None) -> InputError:
    shape = f"{size[0]}x{size[1]} pixels ({pixels:,})" if size else f"{pixels:,} pixels"
    return InputError(
        f"{path}: {shape}, more than the {MAX_PIXELS:,} an image may have (about 13,000 x 13,000; larger "
        "ones are refused undecoded as possible decompression bombs); scale it down first"
    )


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted by name; ``InputError`` if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of images")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no image files, expected some of {', '.join(IMAGE_SUFFIXES)}")
    return files


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """One image as ``(28, 28)`` uint8, grey, longer side 28, centred on black."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # within MAX_PIXELS
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:  # PIL's limit may have been raised
                    raise _too_large(path, img.width * img.height, img.size)
                grey = _to_grey(ImageOps.exif_transpose(img))  # a phone photo's EXIF rotation, applied
    except Image.DecompressionBombError as error:
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        raise _too_large(path, int(claimed.group(1)) if claimed else MAX_PIXELS + 1) from None
    except (UnidentifiedImageError, OSError) as error:
        raise InputError(f"{path}: not a readable PNG/JPEG image ({' '.join(str(error).split())})") from None
    scale = SIZE / max(grey.size)
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    grey = grey.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (SIZE, SIZE), 0)
    canvas.paste(grey, ((SIZE - size[0]) // 2, (SIZE - size[1]) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def _to_grey(img: Any) -> Any:
    """8-bit grey (``L``) of a PIL image: 16-bit grey rescaled, transparency composited onto black."""
    from PIL import Image

    if img.mode.startswith("I"):  # 16-bit grey PNG ("I;16", "I;16B", or "I" holding 0..65535)
        wide = np.clip(np.asarray(img, dtype=np.float64), 0, 65535)
        return Image.fromarray(np.round(wide * (255 / 65535)).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("L")
    return img.convert("L")


def standardise(pixels: np.ndarray, mean: float, std: float) -> np.ndarray:
    """``(pixels - mean) / std`` as float32, computed in float64 as the training arrays are."""
    return ((pixels.astype(np.float64) - mean) / std).astype(np.float32)


def load_image_folder(
    folder: str | os.PathLike[str], mean: float, std: float
) -> tuple[list[Path], np.ndarray]:
    """The folder's images, sorted by file name, as standardised ``(N, 28, 28)`` float32."""
    files = image_files(folder)
    return files, standardise(np.stack([load_image(f) for f in files]), mean, std)
