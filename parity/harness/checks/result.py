"""What every check returns: :class:`CheckResult`, one row of the report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult"]


@dataclass(frozen=True)
class CheckResult:
    """One row of the report.

    ``value`` is the measured quantity (``inf`` when the models could not even be
    compared, e.g. the weights did not transfer; then ``inf_reason`` says why in a few
    words, shown beside it in the table), ``passed`` says whether it met ``tolerance``;
    ``layer`` is the first diverging layer or the worst weight, where relevant; ``series``
    holds curves for the plot and the JSON (per-layer differences, per-step losses).
    """

    check: str
    label: str
    passed: bool
    value: float
    tolerance: float
    layer: str | None = None
    detail: str = ""
    series: dict[str, list[float]] = field(default_factory=dict)
    inf_reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """A JSON-safe dict (``inf`` and ``nan`` as strings)."""

        def num(v: float) -> float | str:
            return v if math.isfinite(v) else str(v)

        return {
            "check": self.check,
            "label": self.label,
            "passed": self.passed,
            "value": num(self.value),
            "tolerance": num(self.tolerance),
            "layer": self.layer,
            "detail": self.detail,
            "series": {k: [num(float(x)) for x in v] for k, v in self.series.items()},
            **({"inf_reason": self.inf_reason} if self.inf_reason else {}),
        }
