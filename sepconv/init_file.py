"""Which architecture values hold weights to start training from (``init_from_file``, fine-tuning).

A Keras model file (``.keras``, ``.h5``) holds a network's description and its weights, so
``sepconv-torch fit --model.init_from_file true`` and ``sepconv-keras train --init-from-file`` can
start from them. A YAML description, a shipped name, a Keras config ``.json``, a ``.weights.h5`` file
(no description) and description data hold no usable weights: :func:`init_file` refuses them in one
line naming the value and what was expected. Framework-neutral; the weights are read by each
framework's loader (``sepconv_torch.arch.init_file``, ``sepconv_keras.init_file``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sepconv.arch.yaml_io import DESCRIPTIONS_DIR
from sepconv.described import YAML_SUFFIXES
from sepconv.errors import InputError

__all__ = ["MODEL_SUFFIXES", "init_file"]

#: the Keras model files that hold a description and its weights
MODEL_SUFFIXES = (".keras", ".h5")


def _kind(text: str) -> str | None:
    """What ``text`` names when it holds no weights to start from, else ``None``."""
    lower = text.lower()
    if lower.endswith(YAML_SUFFIXES):
        return "a YAML description"
    if (DESCRIPTIONS_DIR / f"{text}.yaml").is_file():
        return "a shipped description"
    if lower.endswith(".json"):
        return "a Keras model config"
    if lower.endswith(".weights.h5"):
        return "a weights-only file (no description)"
    if not lower.endswith(MODEL_SUFFIXES):
        return "not a Keras model file"
    return None


def init_file(architecture: Any, option: str, flag: str) -> Path:
    """The Keras model file that ``architecture`` (the value of ``option``) names, whose weights ``flag``
    starts training from; :class:`InputError` naming the value and what was expected otherwise."""
    expected = f"{flag} needs {option} to be a Keras model file (.keras, .h5) whose weights to start from"
    if architecture is None:
        raise InputError(f"no {option} given; {expected}")
    if not isinstance(architecture, str | os.PathLike):
        raise InputError(f"{option} is description data, which holds no weights; {expected}")
    text = os.fspath(architecture)
    kind = _kind(text)
    if kind is not None:
        raise InputError(f"{option} {text!r} is {kind}, which holds no weights; {expected}")
    return Path(text)
