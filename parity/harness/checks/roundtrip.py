"""Check 8: Keras -> PyTorch -> Keras and PyTorch -> Keras -> PyTorch give back the very same bits."""

from __future__ import annotations

import keras
import numpy as np
import torch

from parity.converter.dtypes import model_dtype
from parity.converter.errors import WeightMismatchError
from parity.harness.checks.common import failed_transfer, keras_weights, torch_or_failure
from parity.harness.checks.result import CheckResult
from parity.harness.port import Port

__all__ = ["check_round_trip"]


def check_round_trip(model: keras.Model, port: Port) -> CheckResult:
    """Both round trips through the port's mapping must be bit-exact; ``value`` counts differing weights."""
    label = "round trips bit-exact"
    net = torch_or_failure(port, model, "round_trip", label, 0.0)
    if isinstance(net, CheckResult):
        return net
    rows = port.rows()
    try:
        back = port.keras_from(net, model_dtype(model))
        net_again = port.torch_from(back)
        keras_again = port.keras_from(net_again, model_dtype(model))
    except WeightMismatchError as error:
        return failed_transfer("round_trip", label, 0.0, error)
    bad: list[tuple[str, str]] = []  # (weight, which trip)
    for row, a, b in zip(rows, keras_weights(model, rows), keras_weights(back, rows), strict=False):
        if a.shape != b.shape or a.tobytes() != b.tobytes():
            bad.append((f"{row.layer}.{row.keras_weight}", "keras->torch->keras"))
    # PyTorch -> Keras -> PyTorch, starting from the PyTorch network made above.
    first, again = net.state_dict(), net_again.state_dict()
    for key, value in first.items():
        other = again.get(key)
        if other is None or not torch.equal(value, other) or value.dtype != other.dtype:
            bad.append((key, "torch->keras->torch"))
    # and a second Keras trip, so an error that cancels in one direction cannot hide
    for row, a, b in zip(rows, keras_weights(back, rows), keras_weights(keras_again, rows), strict=False):
        if not np.array_equal(a, b):
            bad.append((f"{row.layer}.{row.keras_weight}", "second keras trip"))
    return CheckResult(
        "round_trip",
        label,
        not bad,
        float(len(bad)),
        0.0,
        bad[0][0] if bad else None,
        "; ".join(f"{trip} {weight}" for weight, trip in bad)
        if bad
        else f"{len(rows)} weights identical in both directions",
    )
