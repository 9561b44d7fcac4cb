"""What every check returns, and the data every check runs on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckResult", "Setup"]


@dataclass(frozen=True)
class CheckResult:
    """One row of the report.

    ``value`` is the measured quantity (``inf`` when the models could not even be
    compared, e.g. the weights did not transfer), ``passed`` says whether it met
    ``tolerance``; ``layer`` is the first diverging layer or the worst weight,
    where relevant; ``series`` holds curves for the plot and the JSON
    (per-layer differences, per-step losses).
    """

    check: str
    label: str
    passed: bool
    value: float
    tolerance: float
    layer: str | None = None
    detail: str = ""
    series: dict[str, list[float]] = field(default_factory=dict)

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
        }


@dataclass(frozen=True)
class Setup:
    """The data: evaluation images ``(N, 28, 28, 1)`` float32 NHWC (real Fashion-MNIST test images) and
    training images/labels taken in order, ``batch_size`` at a time, for ``steps`` steps of SGD(``lr``)."""

    x_eval: np.ndarray
    y_eval: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    steps: int = 300
    batch_size: int = 32
    lr: float = 0.01

    def batch(self, step: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
        """Training batch ``step`` (wrapping around the training images), images cast to ``dtype``."""
        idx = np.arange(step * self.batch_size, (step + 1) * self.batch_size) % len(self.x_train)
        return self.x_train[idx].astype(dtype), self.y_train[idx]
