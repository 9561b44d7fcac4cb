"""One-line errors for every command-line entry point: sepconv-torch, -keras, -convert, -parity..

A command wraps its work in :func:`run_main`. An error caused by the user's input
(a file, a recipe, a checkpoint, an argument) is printed as one line,
``<prog>: error: <message>``, and the command exits with status 2; the message
names the file, layer or argument and what was expected against what was found.
Anything else is a bug: one line too, marked ``internal error``, status 3. The
traceback is shown only with ``--debug`` on the command line or ``SEPCONV_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

__all__ = ["DEBUG_ENV", "InputError", "debug_requested", "input_error_types", "one_line", "run_main"]

DEBUG_ENV = "SEPCONV_DEBUG"

#: exit status of a refused input, and of a bug
INPUT_ERROR_STATUS = 2
INTERNAL_ERROR_STATUS = 3


class InputError(ValueError):
    """Bad input from the user (file, recipe, checkpoint, argument); the message says which and why."""


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


def run_main(prog: str, main: Callable[[], int | None], argv: Sequence[str] | None = None) -> int:
    """Run ``main()``; return its status, or print one line and return 2 (input) / 3 (bug).

    ``SystemExit`` (argparse's own usage errors, ``--help``) and ``KeyboardInterrupt`` pass through.
    """
    try:
        status = main()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        if debug_requested(argv):
            raise
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
