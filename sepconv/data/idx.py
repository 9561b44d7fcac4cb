"""Reading and validating gzip-compressed IDX files (the MNIST container format).

IDX layout: 2 zero bytes, a type byte (0x08 = uint8), the number of
dimensions, then one big-endian uint32 per dimension, then the data.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from sepconv.data.errors import FashionMNISTError
from sepconv.data.files import IdxFile

__all__ = ["decompress", "parse_idx", "read_idx"]


def decompress(path: Path) -> bytes:
    """The decompressed bytes of ``path``; a clear error if it is not valid gzip."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FashionMNISTError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as e:
        raise FashionMNISTError(f"{path}: not a valid gzip file ({e})") from None


def parse_idx(data: bytes, source: Path | str) -> np.ndarray:
    """Parse IDX bytes into a uint8 array; errors name ``source``."""
    if len(data) < 4:
        raise FashionMNISTError(f"{source}: {len(data)} bytes is too short for an IDX header")
    zero, dtype, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype != 0x08 or ndim not in (1, 3):
        raise FashionMNISTError(
            f"{source}: bad IDX magic number 0x{data[:4].hex()}, expected 0x00000801 (labels) "
            "or 0x00000803 (images)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise FashionMNISTError(f"{source}: truncated IDX header")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise FashionMNISTError(
            f"{source}: header says dims {dims} ({expected} bytes) but the file has {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: Path, spec: IdxFile | None = None, *, verify: bool = True) -> np.ndarray:
    """Read one ``.gz`` IDX file; with ``spec``, check its shape, labels and (``verify``) SHA-256.

    Returns ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels.
    """
    path = Path(path)
    data = decompress(path)
    if spec is not None and verify:
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec.sha256:
            raise FashionMNISTError(
                f"{path}: SHA-256 of the decompressed content is {digest}, expected {spec.sha256} "
                f"({len(data)} bytes, expected {spec.nbytes}); the file is corrupt or not Fashion-MNIST"
            )
    array = parse_idx(data, path)
    if spec is not None:
        if array.shape != spec.shape:
            raise FashionMNISTError(f"{path}: shape {array.shape}, expected {spec.shape} for {spec.key}")
        if spec.key.endswith("labels") and array.size and int(array.max()) > 9:
            raise FashionMNISTError(f"{path}: label {int(array.max())} out of range, expected 0..9")
    return array
