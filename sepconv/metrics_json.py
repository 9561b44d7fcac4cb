"""Metrics files every JSON parser reads: a NaN or Inf value is written as ``null``, the reason beside it.

``json.dumps`` writes ``NaN`` and ``Infinity``, which are not JSON (``jq``, JavaScript and strict parsers
reject the whole file). :func:`metrics_json` writes such a value as ``null`` and lists it under
``"not_finite"`` with what it was: ``{"test_loss": null, ..., "not_finite": {"test_loss": "nan"}}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["metrics_json"]


def metrics_json(results: Mapping[str, Any]) -> str:
    """``results`` as indented, strictly valid JSON text ending in a newline (see above)."""
    safe: dict[str, Any] = {}
    not_finite: dict[str, str] = {}
    for key, value in results.items():
        if isinstance(value, float) and not math.isfinite(value):
            safe[key], not_finite[key] = None, str(value)
        else:
            safe[key] = value
    if not_finite:
        safe["not_finite"] = not_finite
    return json.dumps(safe, indent=2, allow_nan=False) + "\n"
