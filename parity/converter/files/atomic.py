"""Atomic file writing: a temporary file beside the destination, renamed over it only once complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from parity.converter.errors import WeightFileError

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temporary file beside ``path`` (same extension), then rename it to ``path``.

    If ``write`` raises, the temporary file is removed and ``path`` is untouched. A folder that refuses
    the temporary file is a ``WeightFileError`` naming ``path``.
    """
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".weights.h5") else path.suffix
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as error:
        raise WeightFileError(f"{path}: cannot create a file in {path.parent} ({error.strerror})") from error
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
