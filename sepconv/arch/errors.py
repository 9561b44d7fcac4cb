"""The one error a description raises: a refused layer or argument, named, in one line."""

from __future__ import annotations

from sepconv.errors import InputError

__all__ = ["ArchitectureError"]


class ArchitectureError(InputError):
    """A description (or a Keras model read as one) outside the family; the message names the layer.

    An :class:`~sepconv.errors.InputError`, so the command-line tools print it as one line and exit 2.
    """
