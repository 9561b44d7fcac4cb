"""One-line errors for every command-line entry point: sepconv-torch, -keras, -convert, -parity.

A command wraps its work in :func:`run_main`. Every failure is printed as one
line on stderr and ends the command with a non-zero status:

* status 2, ``<prog>: error: <message>``: the user's input was refused (a file,
  a recipe, a checkpoint, an argument); the message names the file, layer or
  argument and what was expected against what was found;
* status 1, ``<prog>: error: <message>``: training could not go on
  (:class:`TrainingError`, e.g. a non-finite loss); the message says where and
  which checkpoints were kept;
* status 3, ``<prog>: internal error: ...``: anything else, a bug;
* status 1, ``<prog>: error: no space left on device ...``: a write failed with ``ENOSPC``
  anywhere in the exception chain (the path is named where the error knows it);
* status 130, ``<prog>: interrupted``: Ctrl-C (SIGINT);
* status 143, ``<prog>: terminated``: SIGTERM, raised as :class:`Terminated` by the handler that
  :func:`terminate_on_sigterm` installs (a scheduler, ``docker stop``, ``kill``).

A command may add what was saved and how to resume to the last two lines (``stopped_note``).

The traceback is shown only with ``--debug`` on the command line or ``SEPCONV_DEBUG=1``: printed before
the same line, and the status is the same.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "DEBUG_ENV",
    "InputError",
    "Terminated",
    "TrainingError",
    "debug_requested",
    "input_error_types",
    "no_space_error",
    "one_line",
    "run_main",
    "sigterm_raises",
    "terminate_on_sigterm",
]

DEBUG_ENV = "SEPCONV_DEBUG"

#: exit status of a failed run, a refused input, a bug and an interruption
TRAINING_ERROR_STATUS = 1
INPUT_ERROR_STATUS = 2
INTERNAL_ERROR_STATUS = 3
INTERRUPTED_STATUS = 130
TERMINATED_STATUS = 143


class InputError(ValueError):
    """Bad input from the user (file, recipe, checkpoint, argument); the message says which and why."""


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message says where, and what was kept."""


class Terminated(BaseException):
    """SIGTERM arrived (:func:`terminate_on_sigterm`); like ``KeyboardInterrupt``, not an error."""


def terminate_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread, so ``finally`` blocks and callbacks run.

    Call it from the main thread only (signal handlers can be set nowhere else).
    """

    def _raise(signum: int, frame: object) -> None:
        raise Terminated(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """:func:`terminate_on_sigterm` while the block runs, then the caller's handler again (a command
    called in-process, as the tests do, leaves it as it was). Outside the main thread: nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    terminate_on_sigterm()
    try:
        yield
    finally:
        if previous is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGTERM, previous)


def no_space_error(error: BaseException) -> OSError | None:
    """The ``OSError(ENOSPC)`` in ``error``'s chain (itself, ``__cause__`` or ``__context__``), if any.

    Writers such as ``torch.save`` report a full disk as another error ("unexpected pos ...") whose
    cause is the ``ENOSPC``; h5py reports it as ``OSError`` with the errno in its text.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (
            current.errno == errno.ENOSPC or "No space left on device" in str(current)
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


def input_error_types() -> tuple[type[BaseException], ...]:
    """The exception types that mean "bad input", from every package of ours that is loaded."""
    types: list[type[BaseException]] = [InputError, ValueError, TypeError, OSError, KeyError]
    for module, name in (
        ("sepconv.data.errors", "FashionMNISTError"),
        ("yaml", "YAMLError"),
        ("jsonargparse", "ArgumentError"),
    ):
        found = getattr(sys.modules.get(module), name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            types.append(found)
    return tuple(types)


def one_line(error: BaseException) -> str:
    """The error's message with all whitespace runs (newlines included) folded into single spaces."""
    text = " ".join(str(error).split())
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = f"missing key {error.args[0]!r}"
    return text or type(error).__name__


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """``--debug`` in ``argv`` (default ``sys.argv``) or ``SEPCONV_DEBUG`` set to a true value."""
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or os.environ.get(DEBUG_ENV, "").lower() in {"1", "true", "yes", "on"}


def run_main(
    prog: str,
    main: Callable[[], int | None],
    argv: Sequence[str] | None = None,
    *,
    debug: bool | None = None,
    stopped_note: Callable[[], str | None] | None = None,
) -> int:
    """Run ``main()``; return its status, or print one line and return 1, 2, 3, 130 or 143 (see above).

    ``debug`` (default: :func:`debug_requested` on ``argv``) prints the traceback first.
    ``SystemExit`` (argparse's own usage errors, ``--help``) passes through.
    ``stopped_note()``, if given, is appended to the interrupted/terminated line (what was saved, how to
    resume); it is asked only then.
    """
    debug = debug_requested(argv) if debug is None else debug

    def stopped(word: str) -> str:
        note = stopped_note() if stopped_note is not None else None
        return f"{prog}: {word}" + (f"; {note}" if note else "")

    try:
        status = main()
    except SystemExit:
        raise
    except KeyboardInterrupt as error:
        if debug:
            traceback.print_exception(error)
        print(stopped("interrupted"), file=sys.stderr)
        return INTERRUPTED_STATUS
    except Terminated as error:
        if debug:
            traceback.print_exception(error)
        print(stopped("terminated (SIGTERM)"), file=sys.stderr)
        return TERMINATED_STATUS
    except BaseException as error:
        if debug:
            traceback.print_exception(error)
        full = no_space_error(error)
        if full is not None:
            where = f" writing {full.filename}" if getattr(full, "filename", None) else ""
            detail = (full.strerror or "") if error is full else one_line(error)
            if detail.lower().startswith(os.strerror(errno.ENOSPC).lower()):  # said already
                detail = detail[len(os.strerror(errno.ENOSPC)) :].lstrip(" ;:,")
            line = f"{prog}: error: no space left on device{where}" + (f"; {detail}" if detail else "")
            print(line, file=sys.stderr)
            return TRAINING_ERROR_STATUS
        if isinstance(error, TrainingError):
            print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
            return TRAINING_ERROR_STATUS
        if isinstance(error, input_error_types()):
            print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
            return INPUT_ERROR_STATUS
        print(
            f"{prog}: internal error: {type(error).__name__}: {one_line(error)} "
            f"(rerun with --debug or {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR_STATUS
    return 0 if status is None else int(status)
