"""Console-script entry points of ``sepconv-parity`` and ``sepconv-convert``.

Importing :mod:`parity` loads TensorFlow, whose C++ runtime writes INFO lines (oneDNN, CUDA drivers,
CPU flags) to stderr as it loads, while a command's stderr is reserved for its one-line error
(:mod:`sepconv.errors`). These wrappers load TensorFlow first with those lines dropped
(:func:`sepconv.compat.import_tensorflow` with ``quiet``; :mod:`sepconv.native_logs`) and set
``TF_CPP_MIN_LOG_LEVEL=2`` for its later logging unless the user has set it, then import the command.
``sepconv-keras`` does the same in its own ``main``. Importing :mod:`parity` as a library changes no
logging.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sepconv.compat import import_tensorflow

__all__ = ["convert", "parity"]


def _load_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import_tensorflow(quiet=True)


def parity(argv: Sequence[str] | None = None) -> int:
    """``sepconv-parity`` (:func:`parity.harness.cli.main`)."""
    _load_tensorflow_quietly()
    from parity.harness.cli import main

    return main(argv)


def convert(argv: Sequence[str] | None = None) -> int:
    """``sepconv-convert`` (:func:`parity.converter.cli.main`)."""
    _load_tensorflow_quietly()
    from parity.converter.cli import main

    return main(argv)
