"""Where the Fashion-MNIST files are found, and the verified download for machines without them.

Search order (the first directory holding all four ``.gz`` files wins):

1. an explicit ``data_dir`` argument;
2. the ``SEPCONV_DATA_DIR`` environment variable;
3. the per-user cache, ``$XDG_CACHE_HOME/sepconv/fashion-mnist`` (``~/.cache/...``);
4. Debian's ``dataset-fashion-mnist`` package, ``/usr/share/datasets/fashion-mnist``;
5. a download into the first writable of 1-3 (normally the cache), verified
   file by file before it is moved into place, so no half-written file is left.
"""

from __future__ import annotations

import hashlib
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
    "DEBIAN_DIR",
    "MIRRORS",
    "candidate_dirs",
    "default_cache_dir",
    "download",
    "download_files",
    "find_data_dir",
]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Upstream mirror (the one torchvision uses); ``SEPCONV_DATA_MIRROR`` overrides it.
MIRRORS: tuple[str, ...] = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sepconv/fashion-mnist``, or ``~/.cache/sepconv/fashion-mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sepconv" / "fashion-mnist"


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The directories searched, in order (see the module docstring)."""
    dirs: list[Path] = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    if os.environ.get("SEPCONV_DATA_DIR"):
        dirs.append(Path(os.environ["SEPCONV_DATA_DIR"]))
    dirs += [default_cache_dir(), DEBIAN_DIR]
    return dirs


def _complete(directory: Path) -> bool:
    return all((directory / f.filename).is_file() for f in FILES)


def find_data_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> Path:
    """The first directory holding all four files, downloading them if none does and ``download``."""
    dirs = candidate_dirs(data_dir)
    for directory in dirs:
        if _complete(directory):
            return directory
    target = dirs[0] if data_dir is not None or os.environ.get("SEPCONV_DATA_DIR") else default_cache_dir()
    searched = ", ".join(str(d) for d in dirs)
    if not download:
        raise FashionMNISTError(
            f"Fashion-MNIST not found: no directory holds all of "
            f"{', '.join(f.filename for f in FILES)} (searched {searched}); "
            "pass data_dir, set SEPCONV_DATA_DIR, install Debian's dataset-fashion-mnist, or allow download"
        )
    try:
        download_files(target, mirrors)
    except FashionMNISTError as e:
        raise FashionMNISTError(f"{e} (searched {searched} before downloading)") from None
    return target


def _mirrors(mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is not None:
        return list(mirrors)
    env = os.environ.get("SEPCONV_DATA_MIRROR")
    return env.split(",") if env else list(MIRRORS)


def download(
    spec: IdxFile, directory: Path, mirrors: Sequence[str] | None = None, timeout: float = 60.0
) -> Path:
    """Fetch one file into ``directory``: written to a temporary file, verified, then renamed.

    Each mirror is tried in turn; a corrupt download is refused (and deleted)
    with an error naming the URL and the checksum found.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / spec.filename
    errors: list[str] = []
    for mirror in _mirrors(mirrors):
        url = mirror.rstrip("/") + "/" + spec.filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out)
            try:
                digest = hashlib.sha256(decompress(tmp)).hexdigest()
            except FashionMNISTError as e:
                raise ValueError(str(e).replace(str(tmp), url)) from None
            if digest != spec.sha256:
                raise ValueError(f"{url}: decompressed SHA-256 {digest}, expected {spec.sha256}; refused")
            os.replace(tmp, final)
            return final
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(str(e) if isinstance(e, ValueError) else f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    raise FashionMNISTError(f"could not download {spec.filename} into {directory}: " + "; ".join(errors))


def download_files(directory: Path, mirrors: Sequence[str] | None = None) -> None:
    """Download every file missing from ``directory`` (see :func:`download`)."""
    for spec in FILES:
        if not (directory / spec.filename).is_file():
            download(spec, directory, mirrors)
