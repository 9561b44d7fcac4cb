"""The parity report: every check on the reference network in several weight states, as a table, JSON and plot."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from parity.checks import CHECKS, CheckResult, Setup, check_forward
from parity.port import Port
from parity.weights import as_dtype, fresh, randomized, trained
from sepconv.data import load_splits

__all__ = ["Report", "format_table", "load_setup", "run_report", "save_plot"]


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


def load_setup(steps: int, seed: int, eval_images: int = 512) -> Setup:
    """Real Fashion-MNIST: the first ``eval_images`` test images, and the training set shuffled by ``seed``."""
    splits = load_splits()
    order = np.random.default_rng(seed).permutation(len(splits.y_train))
    return Setup(
        splits.images("test")[:eval_images],
        splits.labels("test")[:eval_images],
        splits.images("train")[order],
        splits.labels("train")[order],
        steps=steps,
    )


def run_report(
    port: Port,
    setup: Setup,
    start: keras.Model | None = None,
    seed: int = 0,
    float64: bool = False,
    steps64: int = 25,
    train_steps: int = 200,
) -> Report:
    """Run every check. ``start`` (a loaded checkpoint) is the "trained" state; without it the reference
    is trained ``train_steps`` SGD steps from its fresh initialisation. The float64 trajectory runs
    ``steps64`` steps, or ``setup.steps`` with ``float64``, which also repeats checks 4-6 in float64."""
    began = time.perf_counter()
    initial = fresh(seed)
    states = {
        "fresh": initial,
        "random": randomized(fresh(seed), seed + 1),
        "trained": start
        if start is not None
        else trained(initial, setup.x_train, setup.y_train, train_steps),
    }

    def run(name, model, dtype="float32", s=setup):
        return CHECKS[name](model, port, s, dtype)

    results = [run("param_counts", initial)]
    for state, model in states.items():
        r = check_forward(
            as_dtype(model, "float32"), port, setup.x_eval, label=f"forward float32, {state} weights"
        )
        results.append(r)
    results.append(run("float64_exact", states["random"]))
    dtypes = ("float32", "float64") if float64 else ("float32",)
    for dtype in dtypes:
        results.append(run("activations", states["trained"], dtype))
    results += [run("gradients", states["random"], "float32"), run("gradients", states["random"], "float64")]
    for dtype in dtypes:
        results.append(run("sgd_step", states["random"], dtype))
    results.append(run("trajectory", initial))
    short = Setup(
        setup.x_eval,
        setup.y_eval,
        setup.x_train,
        setup.y_train,
        setup.steps if float64 else min(steps64, setup.steps),
        setup.batch_size,
        setup.lr,
    )
    results.append(run("trajectory", initial, "float64", short))
    results.append(run("round_trip", states["random"]))
    return Report(results, port.name, time.perf_counter() - began)


def _fmt(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else str(v)


def format_table(report: Report) -> str:
    """A fixed-width table: check, measured value, tolerance, pass/fail, first diverging layer / worst weight."""
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
