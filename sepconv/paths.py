"""Output paths: checked before any work is done (a bad one fails at once, named), then written atomically.

A file is written under a private temporary name (:func:`private_temp`: same folder, unique to the
process and the call) and renamed over its target (:func:`commit`), so a reader, a second run or a
kill never sees a half-written file where a complete one was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from sepconv.errors import InputError

__all__ = [
    "check_output_dir",
    "check_output_path",
    "commit",
    "commit_together",
    "private_temp",
    "write_text_atomic",
]


def private_temp(path: str | os.PathLike[str]) -> Path:
    """Where ``path`` is written before :func:`commit`: hidden, same folder (so the rename is atomic),
    unique to this process and call, and with all of ``path``'s suffixes (``latest.weights.h5`` ->
    ``.latest.<pid>-<hex>.partial.weights.h5``), since writers choose the format from them."""
    path = Path(path)
    base, _, suffixes = path.name.partition(".")
    tail = f".{suffixes}" if suffixes else ""
    return path.with_name(f".{base}.{os.getpid()}-{secrets.token_hex(4)}.partial{tail}")


def commit(temp: Path, target: str | os.PathLike[str]) -> Path:
    """Flush ``temp`` to disk and rename it over ``target``; returns ``target``."""
    with open(temp, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temp, target)
    return Path(target)


def commit_together(pairs: Sequence[tuple[Path, Path]]) -> None:
    """:func:`commit` each ``(temp, target)``, all flushed before the first rename; on any error every
    temporary file left is removed and the targets not yet renamed keep their previous content."""
    try:
        for temp, _ in pairs:
            with open(temp, "rb") as written:
                os.fsync(written.fileno())
        for temp, target in pairs:
            os.replace(temp, target)
    finally:
        for temp, _ in pairs:
            temp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a private temporary file; nothing is left behind on error."""
    temp = private_temp(path)
    try:
        temp.write_text(text)
        return commit(temp, path)
    finally:
        temp.unlink(missing_ok=True)


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


def packaged_or_path(
    folder: Path, name_or_path: str | os.PathLike[str], what: str, error: type[Exception] = FileNotFoundError
) -> Path:
    """``folder/<name>.yaml`` for a packaged name (``reference``), else ``name_or_path`` as a file path;
    ``error`` naming ``what`` (recipe, description), the value and the packaged names if neither exists."""
    candidate = folder / f"{name_or_path}.yaml"
    path = candidate if candidate.is_file() else Path(name_or_path)
    if not path.is_file():
        names = sorted(p.stem for p in folder.glob("*.yaml"))
        raise error(f"{what} {str(name_or_path)!r}: not one of {names} and no such file")
    return path
