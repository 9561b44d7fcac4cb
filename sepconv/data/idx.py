"""Reading and validating gzip-compressed IDX files (the MNIST container format).

IDX layout: 2 zero bytes, a type byte (0x08 = uint8), the number of
dimensions, then one big-endian uint32 per dimension, then the data.

Hostile input is refused with :class:`FashionMNISTError` and nothing else:
sizes are checked against the bytes actually present before any array is made
(the array is a view of the decompressed bytes, never an allocation sized by
the header), and with a known file the decompression stops one byte past the
expected size, so a gzip bomb costs no more memory than the real file.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from pathlib import Path

import numpy as np

from sepconv.data.errors import FashionMNISTError
from sepconv.data.files import IdxFile

__all__ = ["IDX_NDIMS", "IDX_UBYTE", "decompress", "parse_idx", "read_idx"]

#: the IDX type code of unsigned bytes, the only one Fashion-MNIST uses
IDX_UBYTE = 0x08
#: labels are 1-D, images 3-D
IDX_NDIMS = (1, 3)
NUM_CLASSES = 10


def decompress(path: Path, limit: int | None = None) -> bytes:
    """The decompressed bytes of ``path``; at most ``limit`` bytes are accepted.

    Raises :class:`FashionMNISTError` naming ``path`` if it cannot be read, is
    not valid gzip (truncated, bad CRC, not gzip at all) or decompresses to more
    than ``limit`` bytes (reading stops at ``limit + 1``).
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 (closed by the with block below)
    except FileNotFoundError:
        raise FashionMNISTError(f"{path}: file not found") from None
    except OSError as e:
        raise FashionMNISTError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        with raw, gzip.GzipFile(fileobj=raw, mode="rb") as f:
            data = f.read(-1 if limit is None else limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise FashionMNISTError(f"{path}: not a valid gzip file ({e})") from None
    if limit is not None and len(data) > limit:
        raise FashionMNISTError(
            f"{path}: decompresses to more than {limit} bytes, the size this file must have; refused"
        )
    return data


def parse_idx(data: bytes, source: Path | str) -> np.ndarray:
    """Parse IDX bytes into a read-only uint8 array viewing ``data``; errors name ``source``.

    Returns ``(d0,)`` for a 1-D file, ``(d0, d1, d2)`` for a 3-D one.
    """
    if len(data) < 4:
        raise FashionMNISTError(
            f"{source}: {len(data)} bytes is too short for an IDX header (4 bytes or more)"
        )
    magic = data[:4].hex()
    if data[0] != 0 or data[1] != 0:
        raise FashionMNISTError(
            f"{source}: bad IDX magic number 0x{magic}, expected 0x00000801 (labels) or 0x00000803 (images)"
        )
    if data[2] != IDX_UBYTE:
        raise FashionMNISTError(
            f"{source}: bad IDX magic number 0x{magic}: type code 0x{data[2]:02x}, "
            f"expected 0x{IDX_UBYTE:02x} (unsigned byte)"
        )
    ndim = data[3]
    if ndim not in IDX_NDIMS:
        raise FashionMNISTError(
            f"{source}: bad IDX magic number 0x{magic}: {ndim} dimensions, expected 1 (labels) or 3 (images)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise FashionMNISTError(
            f"{source}: truncated IDX header: {len(data)} bytes, a {ndim}-D header needs {header}"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    count = math.prod(dims)  # a Python int: a forged header cannot overflow it
    body = len(data) - header
    if count != body:
        raise FashionMNISTError(
            f"{source}: header says dims {dims} ({count} bytes of data) but {body} bytes follow the header"
        )
    if count == 0:
        raise FashionMNISTError(f"{source}: header says dims {dims}: the file holds no data")
    return np.frombuffer(data, dtype=np.uint8, count=count, offset=header).reshape(dims)


def read_idx(path: Path, spec: IdxFile | None = None, *, verify: bool = True) -> np.ndarray:
    """Read one ``.gz`` IDX file; with ``spec``, check its size, shape, labels and (``verify``) SHA-256.

    Returns ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels. The structure
    is checked before the checksum, so the error says what is wrong (a bad magic
    number, a label of 42) rather than only that the checksum differs.
    """
    path = Path(path)
    data = decompress(path, limit=None if spec is None else spec.nbytes)
    array = parse_idx(data, path)
    if spec is None:
        return array
    if array.shape != spec.shape:
        raise FashionMNISTError(f"{path}: shape {array.shape}, expected {spec.shape} for {spec.key}")
    if spec.key.endswith("labels"):
        bad = np.flatnonzero(array >= NUM_CLASSES)
        if bad.size:
            raise FashionMNISTError(
                f"{path}: label {int(array[bad[0]])} at index {int(bad[0])} out of range, "
                f"expected 0..{NUM_CLASSES - 1}"
                + (f" ({bad.size} labels out of range)" if bad.size > 1 else "")
            )
    if verify:
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec.sha256:
            raise FashionMNISTError(
                f"{path}: SHA-256 of the decompressed content is {digest}, expected {spec.sha256}; "
                "the file is corrupt or not Fashion-MNIST"
            )
    return array
