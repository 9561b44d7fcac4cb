"""The one refusal of weights that would run but compute nonsense: NaN/Inf values, non-float dtypes.

Framework-neutral (NumPy only): every command that loads weights (``sepconv-torch test/predict/fit
--ckpt_path``, ``sepconv-keras predict``, ``sepconv-convert``, ``sepconv-parity``) hands its arrays
here as ``{name: array}``, converted from its own tensors, and refuses the file with one line.

* A non-float weight (``int32``, ``bool``, ...) is refused: frameworks cast it silently into the
  model's float variables (an ``int32`` kernel truncated to zeros predicts 0.1 for every class).
* A floating weight holding NaN or Inf is refused: every output would be NaN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from sepconv.errors import InputError

__all__ = ["check_weights", "weight_problems"]


def weight_problems(arrays: Mapping[str, Any]) -> list[str]:
    """``"name: dtype int32, expected floating point"`` or ``"name: NaN or Inf (k of n)"`` per bad weight.

    ``arrays`` maps weight names to anything ``np.asarray`` takes (NumPy arrays, or tensors
    converted by the caller; a bfloat16 tensor should be cast to float32 first).
    """
    problems = []
    for name, value in arrays.items():
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.floating):
            problems.append(f"{name}: dtype {array.dtype}, expected floating point")
            continue
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            problems.append(f"{name}: NaN or Inf ({bad} of {array.size})")
    return problems


def check_weights(
    arrays: Mapping[str, Any],
    path: str | os.PathLike[str],
    consequence: str = "",
    error: type[Exception] = InputError,
) -> None:
    """Raise ``error`` naming ``path`` and the first three bad weights (:func:`weight_problems`), if any.

    ``consequence`` (e.g. "nothing was converted") ends the message.
    """
    problems = weight_problems(arrays)
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        tail = f"; {consequence}" if consequence else ""
        raise error(f"{path}: unusable weights: {'; '.join(problems[:3])}{more}{tail}")
