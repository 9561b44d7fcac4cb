"""Keep freed host memory in the process, so training steps reuse pages instead of faulting in new ones.

PyTorch's CPU allocator is plain ``malloc``. glibc serves every block above its mmap threshold
(dynamic, at most 32 MiB) with a fresh ``mmap`` and hands it back on ``free``; the top of the heap is
trimmed back to the OS as well. A training step of this network allocates and frees tens of
megabytes of activations, so each step faulted in thousands of fresh pages, which costs milliseconds
on a virtual machine (README "Performance" has the measurements).

:func:`retain_freed_memory` sets glibc's ``M_MMAP_THRESHOLD`` to its maximum (32 MiB), so that
tensors below it come from the heap, and ``M_TRIM_THRESHOLD`` to 1 GiB, so that freed heap memory
stays mapped for the next step; the process then holds its peak step memory, as TensorFlow's
allocator and PyTorch's CUDA caching allocator do. Tensors of 32 MiB and more (the data set) are
still mapped and unmapped on their own. The settings are process-wide and last until exit.
"""

from __future__ import annotations

import ctypes
import functools
import platform
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "retain_freed_memory"]

# glibc's <malloc.h> parameter numbers
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

#: glibc's upper bound for the mmap threshold on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``)
MMAP_THRESHOLD = 32 * 1024 * 1024
#: freed memory at the top of the heap below this size stays mapped
TRIM_THRESHOLD = 1024 * 1024 * 1024


@functools.cache
def retain_freed_memory() -> bool:
    """Apply the settings above once per process; ``True`` if glibc took them.

    Returns ``False``, changing nothing, where the C library is not glibc (macOS, Windows, musl).
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; the order matters: a fixed mmap threshold stops glibc from
    # moving the trim threshold itself.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
