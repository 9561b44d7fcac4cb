"""The download path against a local HTTP server on 127.0.0.1 serving the four files."""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sepconv.data import DEBIAN_DIR, FashionMNISTError, find_data_dir, load_splits, locate
from sepconv.data.files import FILES

pytestmark = pytest.mark.realdata


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 over a directory holding copies of the four files."""
    served = tmp_path / "served"
    served.mkdir()
    for f in FILES:
        shutil.copy(DEBIAN_DIR / f.filename, served / f.filename)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def empty_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("SEPCONV_DATA_DIR", raising=False)
    monkeypatch.setattr(locate, "DEBIAN_DIR", tmp_path / "no-debian")
    return cache / "sepconv" / "fashion-mnist"


def test_download_into_cache_and_load(mirror: tuple[str, Path], empty_machine: Path, monkeypatch) -> None:
    url, _ = mirror
    monkeypatch.setenv("SEPCONV_DATA_MIRROR", url)
    assert find_data_dir() == empty_machine
    assert sorted(p.name for p in empty_machine.iterdir()) == sorted(f.filename for f in FILES)
    splits = load_splits(download=False)
    assert splits.data_dir == empty_machine.resolve() and len(splits.y_train) == 55000


def test_corrupt_download_refused_nothing_left(mirror: tuple[str, Path], empty_machine: Path) -> None:
    url, served = mirror
    path = served / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[-1] = (data[-1] + 1) % 10
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(
        FashionMNISTError, match=r"t10k-labels-idx1-ubyte\.gz: decompressed SHA-256 .* refused"
    ):
        find_data_dir(mirrors=[url])
    left = sorted(p.name for p in empty_machine.iterdir())
    assert "t10k-labels-idx1-ubyte.gz" not in left and not [n for n in left if n.endswith(".part")]


def test_unreachable_mirror_reported(empty_machine: Path) -> None:
    with pytest.raises(FashionMNISTError, match=r"could not download train-images-idx3-ubyte\.gz"):
        find_data_dir(mirrors=["http://127.0.0.1:9/"])
    assert not any(empty_machine.glob("*"))


class _BrokenHandler(_QuietHandler):
    """``/half/<name>`` promises the whole file but sends half of it; ``/slow/<name>`` stalls after 64 KiB."""

    def do_GET(self) -> None:
        mode, _, name = self.path.strip("/").partition("/")
        if mode not in ("half", "slow"):
            super().do_GET()
            return
        data = (Path(self.directory) / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if mode == "half" else data[:65536])
        self.wfile.flush()
        if mode == "slow":
            time.sleep(30)  # the client is killed meanwhile


@pytest.fixture
def broken_mirror(mirror: tuple[str, Path]) -> Iterator[str]:
    """A second server over the same files, whose ``half/`` and ``slow/`` paths break the transfer."""
    handler = functools.partial(_BrokenHandler, directory=str(mirror[1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_transfer_cut_half_way_leaves_nothing(broken_mirror: str, tmp_path: Path) -> None:
    target = tmp_path / "data"
    with pytest.raises(
        FashionMNISTError, match=r"idx3-ubyte\.gz: the transfer ended after 13210928 of 26421856 bytes"
    ):
        find_data_dir(target, mirrors=[broken_mirror + "half/"])
    assert list(target.iterdir()) == []  # neither the file nor its temporary copy
    with pytest.raises(FashionMNISTError, match=r"train-images-idx3-ubyte\.gz: file not found"):
        find_data_dir(target, download=False)


def test_download_killed_half_way_is_never_accepted(
    broken_mirror: str, mirror: tuple[str, Path], tmp_path: Path
) -> None:
    """``kill -9`` during a download leaves only a hidden ``.part`` file, which no later run reads."""
    target = tmp_path / "data"
    slow = broken_mirror + "slow/"
    code = f"from sepconv.data import find_data_dir; find_data_dir({str(target)!r}, mirrors=[{slow!r}])"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size for p in target.glob(".*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        parts = list(target.glob(".*.part"))
    finally:
        proc.kill()
        proc.wait()
    assert parts and proc.returncode == -signal.SIGKILL
    assert [p.name for p in target.iterdir() if not p.name.startswith(".")] == []
    with pytest.raises(FashionMNISTError, match=r"train-images-idx3-ubyte\.gz: file not found"):
        find_data_dir(target, download=False)
    assert find_data_dir(target, mirrors=[mirror[0]]) == target  # a later download completes
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == sorted(
        f.filename for f in FILES
    )
