"""Checking an output path before any work is done, so a bad one fails at once with a message naming it."""

from __future__ import annotations

import os
from pathlib import Path

from sepconv.errors import InputError

__all__ = ["check_output_dir", "check_output_path"]


def check_output_path(
    path: str | os.PathLike[str],
    option: str | None = None,
    suffix: str | None = None,
    error: type[Exception] = InputError,
) -> None:
    """Raise ``error`` unless ``path`` can be written: not a directory, its folder exists and is writable,
    and (if given) it ends in ``suffix``. The message starts with ``option`` (a command-line flag), if
    given, and ``path``."""
    path = Path(path)
    where = f"{option} {path}" if option else str(path)
    if path.is_dir():
        raise error(f"{where}: is a directory, expected a file path")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise error(f"{where}: the folder {folder} {what}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise error(f"{where}: not writable")
    if suffix is not None and path.suffix.lower() != suffix:
        raise error(f"{where}: expected a {suffix} file, found {path.suffix or 'no extension'!r}")


def check_output_dir(path: str | os.PathLike[str], option: str) -> None:
    """``InputError`` unless ``path`` is a writable folder or can be made one (its nearest existing
    ancestor is a writable folder). Creates nothing, so a later refusal leaves no empty folder behind."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{option} {path}: exists and is not a folder")
        if not os.access(path, os.W_OK):
            raise InputError(f"{option} {path}: not writable")
        return
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{option} {path}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK):
        raise InputError(f"{option} {path}: cannot create it, {ancestor} is not writable")
