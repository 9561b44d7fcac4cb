"""The architecture table: the reference's shapes and parameter counts, and its validation."""

from __future__ import annotations

import dataclasses

import pytest

from sepconv.spec import REFERENCE, LayerSpec, output_shapes, param_counts, validate_spec

REFERENCE_COUNTS = {
    "conv1": 320,
    "sepconv1": 1344,
    "sepconv2": 2400,
    "sepconv3": 4736,
    "sepconv4": 8896,
    "sepconv5": 17664,
    "dense1": 147584,
    "dense2": 1290,
}


def test_param_counts_match_reference_table() -> None:
    counts = param_counts(REFERENCE)
    assert counts == REFERENCE_COUNTS
    assert sum(counts.values()) == 184_234


def test_output_shapes_floor_pooling() -> None:
    shapes = output_shapes(REFERENCE)
    assert shapes["pool3"] == (3, 3, 128)
    assert shapes["flatten"] == (1152,)
    assert shapes["dense2"] == (10,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"filters": 0}, "filters must be positive"),
        ({"kernel": 0}, "kernel must be positive"),
        ({"padding": "full"}, "padding must be"),
        ({"kind": "lstm"}, "kind must be one of"),
        ({"name": "conv1"}, "duplicate layer name"),
    ],
)
def test_validate_spec_names_layer_and_value(change: dict, message: str) -> None:
    spec = list(REFERENCE)
    spec[1] = dataclasses.replace(spec[1], **change)
    with pytest.raises(ValueError, match=message):
        validate_spec(spec)


def test_dense_before_flatten_rejected() -> None:
    with pytest.raises(ValueError, match="'d': dense layer before flatten"):
        validate_spec([LayerSpec("d", "dense", 10)])


def test_shared_package_imports_neither_framework() -> None:
    """``sepconv`` (table, data, recipes, schedules, curves, guard) must load without torch or TensorFlow."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import sepconv, sepconv.spec, sepconv.data, sepconv.init, sepconv.recipes, sepconv.schedule, "
        "sepconv.curves, sepconv.compat\n"
        "sepconv.data.load_splits\n"
        "frameworks = ('torch', 'tensorflow', 'keras', 'triton')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in frameworks)\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
