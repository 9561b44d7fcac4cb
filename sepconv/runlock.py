"""One run per output folder: an advisory ``flock`` on ``<folder>/.sepconv.lock``, held while the run lives.

The kernel drops the lock when the process ends, however it ends (``kill -9`` included), so a killed
run never leaves a stale lock. The file itself stays (it only records who holds it): removing it would
let a third run lock a new file while a second still holds the old one. Framework-neutral.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO

from sepconv.errors import InputError

__all__ = ["LOCK_NAME", "RunLock", "lock_run"]

LOCK_NAME = ".sepconv.lock"


class RunLock:
    """The held lock of one folder; :meth:`release` (or process exit) frees it."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path, self._handle = path, handle

    def release(self) -> None:
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(text: str) -> str:
    """``pid 123 on host h, started 2026-12-02T05:50:00Z: sepconv-keras train ...`` from the lock's record."""
    try:
        record = json.loads(text)
        return (
            f"pid {record['pid']} on host {record['host']}, started {record['started']}: "
            f"`{record['command']}`"
        )
    except (ValueError, KeyError, TypeError):
        return "a process that has not recorded itself yet"


def lock_run(folder: str | os.PathLike[str], option: str, command: str | None = None) -> RunLock:
    """Lock ``folder`` (created if missing) for this process, or raise :class:`InputError` naming the
    run that holds it (pid, host, start time, command). ``option`` is the flag that named the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    handle = open(path, "a+")  # noqa: SIM115 - held open for the run's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _holder(handle.read())
        handle.close()
        raise InputError(
            f"{option} {folder}: in use by another run ({holder}); "
            f"wait for it to end or choose another {option}"
        ) from None
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(record) + "\n")
    handle.flush()
    return RunLock(path, handle)
