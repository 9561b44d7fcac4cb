"""Property tests: the IDX reader refuses any damaged input with FashionMNISTError, and nothing else.

Truncations, bit flips, header edits (magic, type code, ndim, dims, huge forged
dims) and appended bytes, on raw IDX bytes (``parse_idx``) and on ``.gz`` files
(``read_idx``). Each case also checks that no allocation grows with a forged
header: peak traced memory stays within a small multiple of the input's size.

The default profile is derandomised (the same cases every run, fast);
``HYPOTHESIS_PROFILE=fuzz python -m pytest tests/test_fuzz_idx.py`` runs a long,
random search.
"""

from __future__ import annotations

import gzip
import math
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sepconv.data import FashionMNISTError
from sepconv.data.files import IdxFile
from sepconv.data.idx import parse_idx, read_idx

settings.register_profile(
    "default",
    max_examples=1000,
    deadline=1000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("fuzz", max_examples=20_000, deadline=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

UINT32 = st.integers(0, 2**32 - 1)
#: memory a parse may use beyond the input itself (interpreter and NumPy bookkeeping)
SLACK = 64 * 1024


@st.composite
def idx_files(draw: st.DrawFn) -> bytes:
    """A valid small IDX file: 1-D labels or 3-D images of unsigned bytes."""
    ndim = draw(st.sampled_from([1, 3]))
    dims = draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim))
    body = draw(st.binary(min_size=math.prod(dims), max_size=math.prod(dims)))
    return bytes([0, 0, 0x08, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims) + body


@st.composite
def damaged(draw: st.DrawFn, files: st.SearchStrategy[bytes]) -> bytes:
    """A file with 1-3 of: truncation, bit flips, a header byte or dimension rewritten, extra bytes."""
    data = bytearray(draw(files))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "header_byte", "dim", "append"]))
        if kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        elif kind == "header_byte" and len(data) >= 4:
            data[draw(st.integers(0, 3))] = draw(st.integers(0, 255))
        elif kind == "dim" and len(data) >= 8:
            slot = 4 + 4 * draw(st.integers(0, max(0, min(data[3], (len(data) - 8) // 4))))
            huge = draw(st.one_of(UINT32, st.sampled_from([2**32 - 1, 2**31, 2**16, 0])))
            data[slot : slot + 4] = huge.to_bytes(4, "big")
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def parse_within_budget(data: bytes) -> np.ndarray | None:
    """``parse_idx(data)``: the array, or ``None`` after a FashionMNISTError; any other exception fails."""
    tracemalloc.start()
    try:
        return parse_idx(data, "fuzz.idx")
    except FashionMNISTError as e:
        assert "fuzz.idx" in str(e)
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= 2 * len(data) + SLACK, f"{peak} bytes traced for {len(data)} bytes of input"


def expected_layout(data: bytes) -> tuple[int, ...]:
    ndim = data[3]
    return tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))


@given(idx_files())
def test_valid_files_parse(data: bytes) -> None:
    array = parse_within_budget(data)
    assert array is not None and array.dtype == np.uint8 and array.shape == expected_layout(data)
    assert array.tobytes() == data[4 + 4 * data[3] :]


@given(damaged(idx_files()))
@example(bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") * 3)  # a 2^96-byte claim, no body
@example(bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") * 2 + (0).to_bytes(4, "big"))  # zero items
@example(bytes([0, 0, 8, 1]) + (2**32 - 1).to_bytes(4, "big") + b"\x00" * 64)
@example(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2**22, 2**21, 2**21)))  # 2^64 wraps
@example(bytes([0, 0, 0x0D, 1]) + (1).to_bytes(4, "big") + b"\x00" * 4)  # a float32 file
@example(b"")
def test_damaged_files_parse_or_are_refused(data: bytes) -> None:
    array = parse_within_budget(data)
    if array is not None:  # damage that leaves a consistent file (e.g. a flipped data byte) is accepted
        assert data[:3] == b"\x00\x00\x08" and array.shape == expected_layout(data)
        assert array.size == len(data) - 4 - 4 * data[3]


#: a labels file small enough to fuzz through gzip
TINY = IdxFile("test_labels", "tiny-labels-idx1-ubyte.gz", (64,), 72, "0" * 64)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("fuzz") / TINY.filename


@st.composite
def gzip_files(draw: st.DrawFn) -> bytes:
    labels = draw(st.binary(min_size=64, max_size=64).map(lambda b: bytes(x % 10 for x in b)))
    return gzip.compress(bytes([0, 0, 8, 1]) + (64).to_bytes(4, "big") + labels, mtime=0)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(damaged(gzip_files()))
@example(gzip.compress(bytes(10**6)))  # a gzip bomb: decompression stops past the expected 72 bytes
def test_damaged_gzip_files_are_refused(scratch: Path, compressed: bytes) -> None:
    scratch.write_bytes(compressed)
    tracemalloc.start()
    try:
        with pytest.raises(FashionMNISTError, match=TINY.filename):
            read_idx(scratch, TINY, verify=True)  # the checksum never matches: every outcome is a refusal
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= 4 * len(compressed) + 256 * 1024, f"{peak} bytes traced for {len(compressed)} bytes"
