"""The suite: which checks run on which weight states and dtypes, all through the check registry."""

from __future__ import annotations

import dataclasses
import time

import keras

from parity.harness.checks import CHECKS, onnx_runtime_available
from parity.harness.data import Setup
from parity.harness.port import Port
from parity.harness.report import Report
from parity.harness.states import fresh, randomized, trained

__all__ = ["run_suite"]


def run_suite(
    port: Port,
    setup: Setup,
    start: keras.Model | None = None,
    seed: int = 0,
    float64: bool = False,
    steps64: int = 25,
    train_steps: int = 200,
    onnx: bool | None = None,
) -> Report:
    """Run every check. ``start`` (a loaded checkpoint) is the "trained" state; without it the reference
    is trained ``train_steps`` SGD steps from its fresh initialisation. The float64 trajectory runs
    ``steps64`` steps, or ``setup.steps`` with ``float64``, which also repeats checks 4-6 in float64.
    ``onnx`` adds the ONNX Runtime rows on the trained state (default: when the ``export`` extra is
    installed, or when ``setup.onnx`` names a file)."""
    onnx = onnx_runtime_available() if onnx is None else onnx
    began = time.perf_counter()
    initial = fresh(seed)
    states = {
        "fresh": initial,
        "random": randomized(fresh(seed), seed + 1),
        "trained": start
        if start is not None
        else trained(initial, setup.x_train, setup.y_train, train_steps),
    }

    def run(name: str, model: keras.Model, dtype: str = "float32", s: Setup = setup):
        return CHECKS[name](model, port, s, dtype)

    results = [run("param_counts", initial)]
    for state, model in states.items():
        result = run("forward", model)
        results.append(dataclasses.replace(result, label=f"forward float32, {state} weights"))
    results.append(run("float64_exact", states["random"]))
    dtypes = ("float32", "float64") if float64 else ("float32",)
    for dtype in dtypes:
        results.append(run("activations", states["trained"], dtype))
    results += [run("gradients", states["random"], "float32"), run("gradients", states["random"], "float64")]
    for dtype in dtypes:
        results.append(run("sgd_step", states["random"], dtype))
    results.append(run("trajectory", initial))
    short = dataclasses.replace(setup, steps=setup.steps if float64 else min(steps64, setup.steps))
    results.append(run("trajectory", initial, "float64", short))
    results.append(run("round_trip", states["random"]))
    if onnx or setup.onnx is not None:
        results += [run("onnx_vs_keras", states["trained"]), run("onnx_vs_torch", states["trained"])]
    return Report(results, port.name, time.perf_counter() - began)
