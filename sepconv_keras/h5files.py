"""Closing an HDF5 file that a failed write left open, so a full disk ends in one line, not a segfault.

When a write into an ``.h5`` file fails (``ENOSPC``), Keras' ``save_weights`` and legacy ``.h5`` saving
leave the ``h5py`` file open. HDF5 then retries its flush, which fails again, each time the file's
objects are freed (tracebacks from ``__dealloc__``), and the process segfaults in HDF5's exit handler.
:func:`abandon_h5` empties the half-written file (freeing its blocks, so the final flush of a few
kilobytes of metadata fits), closes every HDF5 handle on it and removes it.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import h5py

from sepconv.errors import no_space_error

__all__ = ["abandon_h5", "full_disk"]


def abandon_h5(path: Path) -> None:
    """Close every open HDF5 handle on ``path`` (a failed write's), then delete the file."""
    target = os.path.abspath(path)
    for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        try:
            name = os.path.abspath(fid.name.decode() if isinstance(fid.name, bytes) else fid.name)
        except Exception:  # an id closed meanwhile
            continue
        if name != target:
            continue
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            os.ftruncate(fid.get_vfd_handle(), 0)
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            h5py.File(fid).close()  # closes the file's open objects too, as h5py's own close does
    path.unlink(missing_ok=True)


def full_disk(target: Path, error: BaseException) -> None:
    """If ``error`` is a full disk, raise ``OSError(ENOSPC)`` naming ``target`` (HDF5's own message
    names the hidden temporary file) and saying that the previous ``target`` was kept."""
    if no_space_error(error) is not None:
        raise OSError(errno.ENOSPC, f"the previous {target.name} is kept", str(target)) from error
