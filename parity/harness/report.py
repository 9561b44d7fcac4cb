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
from typing import Any

import numpy as np

from parity.harness.checks.result import CheckResult
from sepconv.paths import commit, private_temp, write_text_atomic

__all__ = ["BOUND_RULE", "Report", "format_table", "parity_figure", "save_json", "save_plot"]

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


def _measured(result: CheckResult) -> str:
    """The value, and for ``inf`` why nothing could be measured: ``inf (weights do not transfer)``."""
    if math.isinf(result.value) and result.inf_reason:
        return f"{_fmt(result.value)} ({result.inf_reason})"
    return _fmt(result.value)


def format_table(report: Report) -> str:
    """Fixed-width table: check, measured value, tolerance, pass/fail, first bad layer or worst weight."""
    head = ("check", "measured", "tolerance", "result", "layer")
    rows = [
        (r.label, _measured(r), _fmt(r.tolerance), "pass" if r.passed else "FAIL", r.layer or "")
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
    """Write :meth:`Report.as_json` to ``path`` (through a temporary file: never half-written)."""
    write_text_atomic(path, json.dumps(report.as_json(), indent=2) + "\n")


#: the panels of the plot: check name, series drawn, x-axis label, y-axis label, title
_PANELS = (
    ("activations", "error", None, "max|Δ| / max(1, max|a|)", "per-layer activation difference"),
    ("trajectory", "abs_diff", "SGD step", "|loss_keras - loss_torch|", "training trajectory divergence"),
)


def _floor(values: Sequence[float]) -> float:
    """A decade below the smallest positive value (or tolerance): the level exact zeros are drawn at."""
    positive = [v for v in values if 0 < v < math.inf]
    return 10.0 ** (math.floor(math.log10(min(positive))) - 1) if positive else 1e-16


def _panel(ax: Any, results: Sequence[CheckResult], key: str) -> None:
    """One log-scale panel: each result's ``series[key]`` as a line in its own colour, its tolerance as a
    dashed line of that colour, exact zeros as hollow triangles on a floor below the data (zero has no
    logarithm: they are marked, not plotted as values), non-finite points as crosses at the top, and a
    note where a check measured nothing."""
    drawn = [r for r in results if key in r.series]
    values = [float(v) for r in drawn for v in r.series[key]] + [r.tolerance for r in drawn]
    floor = _floor(values)
    top = max([v for v in values if math.isfinite(v)] + [floor * 10])
    any_zero = False
    for i, r in enumerate(drawn):
        y = np.asarray(r.series[key], dtype=np.float64)
        x = np.arange(len(y))
        (line,) = ax.semilogy(x, np.where(np.isfinite(y) & (y > 0), y, np.nan), "o-", ms=3, label=r.label)
        colour = line.get_color()
        ax.axhline(r.tolerance, ls="--", lw=1, color=colour, label=f"tolerance {r.tolerance:g}")
        zeros, bad = y == 0, ~np.isfinite(y)
        if zeros.any():
            any_zero = True
            shift = 0.12 * (i - (len(drawn) - 1) / 2)  # side by side where two series are exact at one x
            ax.plot(
                x[zeros] + shift,
                np.full(zeros.sum(), floor),
                "v",
                mfc="none",
                color=colour,
                ms=7,
                label="exact (0)",
            )
        if bad.any():
            ax.plot(x[bad], np.full(bad.sum(), top * 10), "x", color=colour, ms=7, label="not finite")
    if any_zero:
        ax.axhline(floor, color="0.5", lw=0.6, ls=":")
        ax.annotate(
            "exact (0)",
            (1.0, floor),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            color="0.35",
        )
    if drawn:
        # the upper part of the axis is left free for the legend
        low, high = (
            math.log10(floor / 3 if any_zero else min(v for v in values if v > 0) / 3),
            math.log10(top * 30),
        )
        ax.set_ylim(10**low, 10 ** (high + 0.25 * (high - low)))
        ax.legend(fontsize=7, loc="upper left", ncol=2)
    missing = [r for r in results if key not in r.series]
    if missing:
        note = "\n".join(f"{r.label}: not measured ({r.inf_reason or r.detail[:60]})" for r in missing)
        ax.text(
            0.5,
            0.5 if not drawn else 0.03,
            note,
            transform=ax.transAxes,
            ha="center",
            va="center" if not drawn else "bottom",
            fontsize=8,
        )
    if drawn:
        ax.grid(True, which="both", alpha=0.3)
    else:  # an empty axis: its 0-1 scale would read as measurements
        ax.set_xticks([])
        ax.set_yticks([])


def parity_figure(report: Report, names: Sequence[str]) -> Any:
    """The figure :func:`save_plot` writes: per-layer activation error and per-step |Δloss| (log scale),
    each with its tolerance; ``names`` are the layers, in order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, (check, key, xlabel, ylabel, title) in zip(axes, _PANELS, strict=True):
        _panel(ax, [r for r in report.results if r.check == check], key)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if xlabel:
            ax.set_xlabel(xlabel)
    axes[0].set_xticks(range(len(names)), names, rotation=60, ha="right")
    if axes[1].has_data():
        axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))  # steps, not 0.5
    failed = sum(not r.passed for r in report.results)
    verdict = f"{failed} of {len(report.results)} checks FAILED" if failed else "all checks passed"
    fig.suptitle(f"parity of port {report.port!r}: {verdict}")
    fig.tight_layout()
    return fig


def save_plot(report: Report, path: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Write :func:`parity_figure` as a PNG to ``path`` (through a temporary file: never half-written)."""
    import matplotlib.pyplot as plt

    fig = parity_figure(report, names)
    temp = private_temp(path)
    try:
        fig.savefig(temp, dpi=100, format="png")
        commit(temp, path)
    finally:
        plt.close(fig)
        temp.unlink(missing_ok=True)
