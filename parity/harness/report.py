"""The parity report: the results of a suite run rendered as a table, as JSON and as a plot.

The table states the bound rule: every tolerance applies to the scaled error
``max|Δ| / max(1, max|t|)``, ``t`` the Keras-side tensor compared.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parity.harness.checks.result import CheckResult

__all__ = ["BOUND_RULE", "Report", "format_table", "save_json", "save_plot"]

#: how every tolerance of the table is applied
BOUND_RULE = (
    "bounds: max|Δ| / max(1, max|t|) <= tolerance, t the Keras-side tensor compared "
    "(gradients: / max|g|, float32 ones each framework vs its own float64; trajectory losses: absolute)"
)


@dataclass(frozen=True)
class Report:
    """All results, what they ran on, and how long it took."""

    results: list[CheckResult]
    port: str
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(r.passed for r in self.results)

    def as_json(self) -> dict[str, object]:
        """JSON-safe summary with every row and its curves."""
        return {
            "port": self.port,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "results": [r.as_json() for r in self.results],
        }


def _fmt(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else str(v)


def format_table(report: Report) -> str:
    """Fixed-width table: check, measured value, tolerance, pass/fail, first bad layer or worst weight."""
    head = ("check", "measured", "tolerance", "result", "layer")
    rows = [
        (r.label, _fmt(r.value), _fmt(r.tolerance), "pass" if r.passed else "FAIL", r.layer or "")
        for r in report.results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()

    out = [line(head), line(["-" * w for w in widths]), *map(line, rows)]
    failed = [r for r in report.results if not r.passed]
    out += ["", *(f"FAIL {r.label}: {r.detail}" for r in failed)]
    verdict = "all checks passed" if not failed else f"{len(failed)} of {len(report.results)} checks FAILED"
    out.append(BOUND_RULE)
    out.append(f"port {report.port!r}: {verdict} in {report.seconds:.1f} s")
    return "\n".join(out)


def save_json(report: Report, path: str | os.PathLike[str]) -> None:
    """Write :meth:`Report.as_json` to ``path``."""
    Path(path).write_text(json.dumps(report.as_json(), indent=2) + "\n")


def save_plot(report: Report, path: str | os.PathLike[str], names: Sequence[str]) -> None:
    """PNG: per-layer activation error (log scale) and the per-step |Δloss| of each trajectory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    floor = 1e-18  # exact zeros have no logarithm
    for r in report.results:
        if r.check == "activations" and "error" in r.series:
            left.semilogy(range(len(names)), np.maximum(r.series["error"], floor), "o-", label=r.label)
            left.axhline(r.tolerance, ls="--", lw=0.8, color="gray")
        if r.check == "trajectory" and "abs_diff" in r.series:
            right.semilogy(np.maximum(r.series["abs_diff"], floor), label=r.label)
    left.set_xticks(range(len(names)), names, rotation=60, ha="right")
    left.set_ylabel("max|Δ| / max(1, max|a|)")
    left.set_title("per-layer activation difference")
    right.set_xlabel("SGD step")
    right.set_ylabel("|loss_keras - loss_torch|")
    right.set_title("training trajectory divergence")
    for ax in (left, right):
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
