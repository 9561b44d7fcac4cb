"""The parity report: ``inf`` rows say why, the plot draws tolerances and marks exact zeros as exact."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from matplotlib.lines import Line2D

from parity.converter.errors import Mismatch, WeightMismatchError
from parity.converter.mapping import build_mapping
from parity.harness.checks.common import failed_transfer
from parity.harness.checks.result import CheckResult
from parity.harness.report import Report, format_table, parity_figure
from sepconv.spec import REFERENCE

NAMES = [layer.name for layer in REFERENCE]
F32 = [3e-7, 2e-7, 0.0, 4e-7, 1e-7, 0.0, 2e-7, 3e-7, 0.0, 0.0, 3e-7, 1e-7]
F64 = [1e-15, 0.0, 0.0, 2e-15, 1e-15, 0.0, 1e-15, 1e-15, 0.0, 0.0, 1e-15, 4e-16]


def _result(check: str, label: str, tolerance: float, key: str, series: list[float]) -> CheckResult:
    return CheckResult(check, label, True, max(series), tolerance, None, "", {key: series})


def reference_report() -> Report:
    return Report(
        [
            _result("activations", "per-layer activations float32", 1e-5, "error", F32),
            _result("activations", "per-layer activations float64", 1e-12, "error", F64),
            _result("trajectory", "trajectory float32, 4 steps", 2e-2, "abs_diff", [1e-7, 3e-6, 2e-5, 1e-4]),
            _result("trajectory", "trajectory float64, 4 steps", 1e-12, "abs_diff", [0.0, 0.0, 4e-16, 0.0]),
        ],
        "reference",
        1.0,
    )


def transfer_error() -> WeightMismatchError:
    row = next(r for r in build_mapping() if r.layer == "dense1" and r.keras_weight == "kernel")
    mismatch = Mismatch(
        "shape",
        "target",
        row,
        "dense1",
        "weight",
        (128, 1152),
        None,
        (128, 512),
        None,
        "PyTorch 'dense1.weight'",
    )
    return WeightMismatchError([mismatch], "keras -> torch weight transfer")


def broken_report() -> Report:
    error = transfer_error()
    return Report(
        [
            failed_transfer("activations", "per-layer activations float32", 1e-5, error),
            failed_transfer("trajectory", "trajectory float32, 4 steps", 2e-2, error),
        ],
        "valid_padding",
        1.0,
    )


def _lines(ax) -> dict[str, Line2D]:
    return {line.get_label(): line for line in ax.get_lines()}


def test_tolerance_lines_and_exact_zeros() -> None:
    fig = parity_figure(reference_report(), NAMES)
    for ax, results in zip(fig.axes, ([0, 1], [2, 3]), strict=True):
        lines = _lines(ax)
        for i in results:
            r = reference_report().results[i]
            tolerance = next(
                line
                for line in ax.get_lines()
                if line.get_label() == f"tolerance {r.tolerance:g}"
                and line.get_color() == lines[r.label].get_color()
            )
            assert set(tolerance.get_ydata()) == {r.tolerance}
            y = np.asarray(r.series["error" if r.check == "activations" else "abs_diff"])
            data = np.asarray(lines[r.label].get_ydata(), dtype=float)
            assert np.array_equal(np.isnan(data), y == 0)  # zeros are not data on a log axis
            if (y == 0).any():
                exact = next(
                    line
                    for line in ax.get_lines()
                    if line.get_label() == "exact (0)" and line.get_color() == lines[r.label].get_color()
                )
                assert np.allclose(exact.get_xdata(), np.flatnonzero(y == 0), atol=0.2)
                floor = set(exact.get_ydata())
                assert len(floor) == 1 and next(iter(floor)) < y[y > 0].min() / 5
                assert next(iter(floor)) > ax.get_ylim()[0]  # on the axis, above its bottom
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("exact (0)") == 2


def test_broken_port_panels_say_why_nothing_was_drawn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "No artists with labels found to put in legend"
        fig = parity_figure(broken_report(), NAMES)
    for ax in fig.axes:
        assert any("not measured (weights do not transfer)" in t.get_text() for t in ax.texts)
        assert ax.get_legend() is None


def test_an_inf_row_says_why() -> None:
    table = format_table(broken_report())
    rows = [line for line in table.splitlines() if line.startswith("per-layer activations")]
    assert rows and "inf (weights do not transfer)" in rows[0]
    assert broken_report().results[0].as_json()["inf_reason"] == "weights do not transfer"


@pytest.mark.parametrize("value", [1.5e-7, math.inf])
def test_a_row_without_a_reason_prints_the_value(value: float) -> None:
    result = CheckResult("forward", "forward float32", False, value, 1e-5)
    assert format_table(Report([result], "reference", 1.0)).splitlines()[2].split()[2] == f"{value:.3g}"
