"""Dropping TensorFlow's start-up log lines from stderr, at the file-descriptor level.

TensorFlow 2.20+ logs from C++ through absl before absl's logging is set up, so the INFO lines it
writes while it loads (oneDNN, CUDA drivers, CPU flags) go straight to file descriptor 2 whatever
``TF_CPP_MIN_LOG_LEVEL`` says. A command's stderr is its one-line error (:mod:`sepconv.errors`), so
the command-line tools load TensorFlow inside :func:`drop_native_logs`: descriptor 2 points at a
temporary file for the block, then every line but the dropped ones is written back, in order.

Dropped: absl's "before absl::InitializeLog()" banner and INFO and WARNING records (``I1128
12:00:00.000000  1234 file.cc:56] ...``, ``W...``), as ``TF_CPP_MIN_LOG_LEVEL=2`` would, plus the
second line of TensorFlow's two-line CPU-instructions record, and the ERROR record ``failed call to
cuInit`` where TensorFlow has said in the same block that this machine has no CUDA driver (its INFO
record "Could not find cuda drivers on your machine"): on a machine without a GPU that error is the
expected outcome, not a fault; with a driver installed it is kept. Kept: every other ERROR and FATAL
record and anything else (Python's own output, warnings, tracebacks).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["drop_native_logs", "dropped_lines", "reports_no_cuda_driver"]

_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: an absl / glog record of severity INFO or WARNING: letter, MMDD, time (before absl is set up,
#: ``00:00:<epoch seconds>``), thread id, file:line]
_INFO_OR_WARNING = re.compile(r"[IW]\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] ")
#: the one record of TensorFlow's start-up that spans two lines continues with this
_CONTINUATION = "To enable the following instructions:"
#: TensorFlow's INFO record that it found no CUDA driver, and the ERROR record CUDA's start then gives
_NO_DRIVER = "] Could not find cuda drivers on your machine"
_CUINIT_FAILED = re.compile(r"E\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] failed call to cuInit: ")


def dropped_lines(text: str) -> tuple[list[str], list[str]]:
    """Split ``text`` (lines with their endings) into ``(kept, dropped)`` lines by the rules above."""
    kept: list[str] = []
    dropped: list[str] = []
    previous_dropped = no_driver = False
    for line in text.splitlines(keepends=True):
        record = _INFO_OR_WARNING.match(line) is not None
        no_driver = no_driver or (record and _NO_DRIVER in line)
        drop = (
            line.rstrip("\r\n") == _BANNER
            or record
            or (previous_dropped and line.startswith(_CONTINUATION))
            or (no_driver and _CUINIT_FAILED.match(line) is not None)
        )
        (dropped if drop else kept).append(line)
        previous_dropped = drop
    return kept, dropped


def reports_no_cuda_driver(lines: list[str]) -> bool:
    """Whether TensorFlow's "Could not find cuda drivers on your machine" record is among ``lines``."""
    return any(_INFO_OR_WARNING.match(line) is not None and _NO_DRIVER in line for line in lines)


@contextlib.contextmanager
def drop_native_logs() -> Iterator[list[str]]:
    """Run the block with stderr's INFO and WARNING log records dropped (see the module docstring).

    Everything else written to stderr in the block, from Python or native code, is written back when
    the block ends, also when it raises. The block gets a list that then holds the dropped lines.
    Without a file descriptor 2 the block runs unchanged.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        saved = -1
    dropped: list[str] = []
    if saved < 0:
        yield dropped
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield dropped
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept, gone = dropped_lines(sink.read().decode("utf-8", errors="replace"))
            dropped.extend(gone)
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
