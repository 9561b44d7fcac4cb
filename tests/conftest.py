"""Shared fixtures. Triton is imported before anything can import TensorFlow (see sepconv.compat)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from sepconv.compat import guard_triton

guard_triton()

import pytest

from sepconv.data import FashionMNISTSplits, load_splits


@pytest.fixture(scope="session")
def splits() -> FashionMNISTSplits:
    """The real data, found as users find it; an error (not a skip) when it is missing."""
    return load_splits(download=False)
