"""Fashion-MNIST for both frameworks: find, verify, parse, split and standardise.

Framework-neutral (NumPy only). :func:`load_splits` is the one source of the
float32 arrays that :mod:`sepconv_torch` and :mod:`sepconv_keras` train on.
"""

from sepconv.data.errors import FashionMNISTError
from sepconv.data.idx import read_idx
from sepconv.data.locate import DEBIAN_DIR, default_cache_dir, find_data_dir
from sepconv.data.splits import FashionMNISTSplits, load_raw, load_splits

__all__ = [
    "DEBIAN_DIR",
    "FashionMNISTError",
    "FashionMNISTSplits",
    "default_cache_dir",
    "find_data_dir",
    "load_raw",
    "load_splits",
    "read_idx",
]
