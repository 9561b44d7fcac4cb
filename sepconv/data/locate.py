"""Where the Fashion-MNIST files are found, and the verified download for machines without them.

An explicit directory is authoritative: with ``data_dir`` (or, without it, the
``SEPCONV_DATA_DIR`` environment variable) the four ``.gz`` files are used from
that directory alone. Files missing there are downloaded into it when downloads
are allowed, otherwise refused with an error naming the missing file; nothing is
ever taken from another directory instead.

Without either, the first of these holding all four files wins:

1. the per-user cache, ``$XDG_CACHE_HOME/sepconv/fashion-mnist`` (``~/.cache/...``);
2. Debian's ``dataset-fashion-mnist`` package, ``/usr/share/datasets/fashion-mnist``;
3. a download into the cache.

A download writes each file to a hidden temporary name (``.<name>.*.part``),
verifies the decompressed SHA-256 and only then renames it into place
(``os.replace``), so a download that fails or is killed half-way leaves no file
under a name that is ever read; every file is verified again when it is loaded.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from sepconv.data.errors import FashionMNISTError
from sepconv.data.files import FILES, IdxFile
from sepconv.data.idx import decompress

__all__ = [
    "DATA_DIR_ENV",
    "DEBIAN_DIR",
    "MIRRORS",
    "candidate_dirs",
    "default_cache_dir",
    "download",
    "download_files",
    "explicit_dir",
    "find_data_dir",
    "missing_files",
]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DATA_DIR_ENV = "SEPCONV_DATA_DIR"
#: Upstream mirror (the one torchvision uses); ``SEPCONV_DATA_MIRROR`` overrides it.
MIRRORS: tuple[str, ...] = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sepconv/fashion-mnist``, or ``~/.cache/sepconv/fashion-mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sepconv" / "fashion-mnist"


def explicit_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """The authoritative directory and where it came from (``data_dir`` or ``$SEPCONV_DATA_DIR``), if any."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir), "data_dir"
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env), f"${DATA_DIR_ENV}"
    return None


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories searched, in order: the explicit one alone, or the cache then Debian's."""
    explicit = explicit_dir(data_dir)
    return [explicit[0]] if explicit is not None else [default_cache_dir(), DEBIAN_DIR]


def missing_files(directory: Path) -> list[str]:
    """The names of the four files that ``directory`` does not hold (as regular files)."""
    return [f.filename for f in FILES if not (directory / f.filename).is_file()]


def find_data_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> Path:
    """The directory the four files are read from, downloading missing ones if ``download``.

    With ``data_dir`` or ``$SEPCONV_DATA_DIR`` that directory is the answer or the
    error; otherwise the cache, then Debian's directory, then a download into the cache.
    """
    explicit = explicit_dir(data_dir)
    if explicit is not None:
        directory, origin = explicit
        if directory.exists() and not directory.is_dir():
            raise FashionMNISTError(f"{directory}: not a directory ({origin})")
        missing = missing_files(directory)
        if missing and not download:
            raise FashionMNISTError(
                f"{directory / missing[0]}: file not found; {origin} is used alone "
                f"(missing there: {', '.join(missing)}); copy the files there or allow download"
            )
        if missing:
            download_files(directory, mirrors)
        return directory
    for directory in candidate_dirs():
        if not missing_files(directory):
            return directory
    searched = ", ".join(str(d) for d in candidate_dirs())
    if not download:
        raise FashionMNISTError(
            f"Fashion-MNIST not found: no directory holds all of "
            f"{', '.join(f.filename for f in FILES)} (searched {searched}); "
            f"pass data_dir, set {DATA_DIR_ENV}, install Debian's dataset-fashion-mnist, or allow download"
        )
    try:
        download_files(default_cache_dir(), mirrors)
    except FashionMNISTError as e:
        raise FashionMNISTError(f"{e} (searched {searched} before downloading)") from None
    return default_cache_dir()


def _mirrors(mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    env = os.environ.get("SEPCONV_DATA_MIRROR")
    return env.split(",") if env else list(MIRRORS)


def download(
    spec: IdxFile, directory: Path, mirrors: Sequence[str] | None = None, timeout: float = 60.0
) -> Path:
    """Fetch one file into ``directory``: written to a temporary file, verified, then renamed.

    Each mirror is tried in turn; a broken transfer (connection lost, short
    body, timeout) or a corrupt file is refused, its temporary file deleted,
    with an error naming the URL. Only a verified file reaches its final name.
    """
    final = directory / spec.filename
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FashionMNISTError(
            f"{directory}: cannot create the data directory ({e.strerror or e})"
        ) from None
    errors: list[str] = []
    for mirror in _mirrors(mirrors):
        url = mirror.rstrip("/") + "/" + spec.filename
        tmp: Path | None = None
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=directory)
            tmp = Path(tmp_name)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out)
                out.flush()
                os.fsync(out.fileno())
                announced, received = response.headers.get("Content-Length"), out.tell()
            if announced is not None and announced.isdigit() and int(announced) != received:
                raise ValueError(f"{url}: the transfer ended after {received} of {announced} bytes")
            try:
                digest = hashlib.sha256(decompress(tmp, limit=spec.nbytes)).hexdigest()
            except FashionMNISTError as e:
                raise ValueError(str(e).replace(str(tmp), url)) from None
            if digest != spec.sha256:
                raise ValueError(f"{url}: decompressed SHA-256 {digest}, expected {spec.sha256}; refused")
            os.replace(tmp, final)
            return final
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            errors.append(str(e) if isinstance(e, ValueError) else f"{url}: {type(e).__name__}: {e}")
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    raise FashionMNISTError(f"could not download {spec.filename} into {directory}: " + "; ".join(errors))


def download_files(directory: Path, mirrors: Sequence[str] | None = None) -> None:
    """Download every file missing from ``directory`` (see :func:`download`)."""
    for spec in FILES:
        if not (directory / spec.filename).is_file():
            download(spec, directory, mirrors)
