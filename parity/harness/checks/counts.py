"""Check 1: trainable parameters per weighted layer and in total, against the architecture table."""

from __future__ import annotations

import keras
from torch import nn

from parity.converter.keras_weights import weighted_keras_layers
from parity.converter.torch_weights import network_of
from parity.harness.checks.result import CheckResult
from parity.harness.port import Port
from sepconv.spec import REFERENCE, param_counts

__all__ = ["check_param_counts", "torch_layer_counts"]


def torch_layer_counts(net: nn.Module) -> list[int]:
    """Parameters of each child module that has any, in definition order."""
    counts = [sum(p.numel() for p in child.parameters()) for child in network_of(net).children()]
    return [c for c in counts if c > 0]


def check_param_counts(model: keras.Model, port: Port) -> CheckResult:
    """Keras' and the port's PyTorch per-layer and total counts must equal the reference table's
    (320, 1344, 2400, 4736, 8896, 17664, 147584, 1290; 184,234). ``value``: how many entries differ."""
    reference = param_counts(REFERENCE)
    k = [layer.count_params() for layer in weighted_keras_layers(model)]
    t = torch_layer_counts(port.build_torch())

    def at(counts: list[int], i: int) -> int | None:
        return counts[i] if i < len(counts) else None

    rows = [(name, want, at(k, i), at(t, i)) for i, (name, want) in enumerate(reference.items())]
    rows.append(("total", sum(reference.values()), sum(k), sum(t)))
    bad = [
        (name, f"{name}: table {want}, keras {ki}, torch {ti}")
        for name, want, ki, ti in rows
        if not want == ki == ti
    ]
    extra = max(len(k), len(t)) - len(reference)
    if extra > 0:
        bad.append(("extra layers", f"{extra} weighted layer(s) more than the table's {len(reference)}"))
    return CheckResult(
        "param_counts",
        "parameter counts",
        not bad,
        float(len(bad)),
        0.0,
        bad[0][0] if bad else None,
        "; ".join(text for _, text in bad)
        if bad
        else f"all {len(reference)} layers and the total ({rows[-1][1]:,}) match",
    )
