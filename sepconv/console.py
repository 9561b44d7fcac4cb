"""Console-script entry points of ``sepconv-parity`` and ``sepconv-convert``.

Importing :mod:`parity` loads TensorFlow, whose C++ runtime writes INFO lines (oneDNN, CUDA drivers,
CPU flags) to stderr as it loads, while a command's stderr is reserved for its one-line error
(:mod:`sepconv.errors`). These wrappers load TensorFlow first with those lines dropped
(:func:`sepconv.compat.import_tensorflow` with ``quiet``, which also sets ``TF_CPP_MIN_LOG_LEVEL=2``
for its later logging unless the user has set it), then import the command. ``sepconv-keras`` loads
TensorFlow the same way. Importing :mod:`parity` as a library changes no logging.
"""

from __future__ import annotations

from collections.abc import Sequence

from sepconv.compat import import_tensorflow

__all__ = ["convert", "parity"]


def parity(argv: Sequence[str] | None = None) -> int:
    """``sepconv-parity`` (:func:`parity.harness.cli.main`)."""
    import_tensorflow(quiet=True)
    from parity.harness.cli import main

    return main(argv)


def convert(argv: Sequence[str] | None = None) -> int:
    """``sepconv-convert`` (:func:`parity.converter.cli.main`)."""
    import_tensorflow(quiet=True)
    from parity.converter.cli import main

    return main(argv)
