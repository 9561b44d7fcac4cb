"""sepconv-parity on a network of the family: every check passes for the port, and each broken port
(one numerics point done PyTorch's way) fails the checks it must."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parity.converter.cli import main as convert
from parity.harness.cli import main as parity
from parity.harness.described import CORRECT, DESCRIBED_PORTS, run_described
from sepconv import arch as A
from sepconv_keras.arch import build_keras

#: one of each numerics point: TF's asymmetric 'same' at stride 2 (8 -> 4 -> 2), depth_multiplier 2,
#: BatchNorm (epsilon 1e-3, biased moving variance), ReLU capped at 6, Flatten, Dropout
SMALL = A.Architecture(
    "small",
    (8, 8, 2),
    (
        A.DepthwiseConv2D(name="dw", kernel_size=3, strides=2, padding="same", depth_multiplier=2),
        A.BatchNormalization(name="bn"),
        A.ReLU(name="relu6", max_value=6.0),
        A.Conv2D(name="conv", filters=4, kernel_size=3, strides=2, padding="same"),
        A.Flatten(name="flat"),
        A.Dropout(name="drop", rate=0.5),
        A.Dense(name="out", units=3, activation="softmax"),
    ),
)


def _model(dtype: str = "float64"):
    """Keras' seeded kernels; BatchNorm with gamma 3 and beta 4, so the ReLU reaches its cap of 6."""
    model = build_keras(SMALL, dtype, seed=0)
    rng = np.random.default_rng(0)
    c = 4
    model.get_layer("bn").set_weights(
        [np.full(c, 3.0), np.full(c, 4.0), rng.normal(0, 0.1, c), rng.uniform(0.5, 1.5, c)]
    )
    return model


def test_the_port_passes_every_check() -> None:
    report = run_described(_model(), SMALL, CORRECT)
    assert report.passed, [(r.label, r.value) for r in report.results]
    rows = {r.check: r for r in report.results}
    assert rows["forward64"].value <= 1e-12 and rows["round_trip"].value == 0.0
    assert "Dropout off" in rows["sgd_step"].label and "drop" in rows["sgd_step"].detail
    assert "num_batches_tracked = 1" in rows["sgd_step"].detail
    assert rows["trajectory"].value <= 1e-10 and len(rows["trajectory"].series["abs_diff"]) == 5


@pytest.mark.parametrize("name", sorted(DESCRIBED_PORTS))
def test_each_broken_port_fails_its_checks(name: str) -> None:
    port = DESCRIBED_PORTS[name]
    report = run_described(_model(), SMALL, port)
    failed = {r.check for r in report.results if not r.passed}
    assert failed == set(port.must_fail), (name, failed)
    forward64 = next(r for r in report.results if r.check == "forward64")
    if name != "unbiased_running_var":  # the first diverging layer is named
        assert forward64.layer == {"bn_epsilon_1e-5": "bn", "relu_uncapped": "relu6"}.get(name, "dw")
    else:  # inference never reads the moving variance's update: only the step's buffers show it
        sgd = next(r for r in report.results if r.check == "sgd_step")
        assert sgd.layer == "bn/moving_variance"


def test_commands_on_keras_and_torch_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keras_file, ckpt, out = tmp_path / "small.keras", tmp_path / "small.ckpt", tmp_path / "r.json"
    _model("float32").save(keras_file)
    assert parity(["--keras", str(keras_file), "--json", str(out)]) == 0, capsys.readouterr()
    assert json.loads(out.read_text())["passed"] is True
    assert convert([str(keras_file), str(ckpt)]) == 0
    assert parity(["--torch", str(ckpt), "--port", "depthwise_interleaved"]) == 1
    text = capsys.readouterr().out
    assert "FAIL forward float64, per layer: first layer over the bound: dw" in text, text
    assert "FAIL ONNX Runtime vs Keras" in text and "FAIL trajectory float64, 10 SGD steps" in text, text


def test_a_reference_broken_port_on_a_description_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parity(["--description", "standard", "--port", "depthwise_axes_swapped"]) == 2
    assert "breaks the reference network" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".onnx", ".pt2"])
def test_a_description_exports_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    from parity.converter.files.deploy import read_metadata

    model = _model("float32")
    src, dst = tmp_path / "small.keras", tmp_path / f"small{suffix}"
    model.save(src)
    assert convert([str(src), str(dst)]) == 0, capsys.readouterr().err
    meta = read_metadata(dst)
    assert meta["source_file"] == "small.keras"
    x = np.random.default_rng(3).normal(0.0, 1.0, (5, 8, 8, 2)).astype(np.float32)
    if suffix == ".onnx":
        import onnxruntime

        assert A.from_dict(json.loads(meta["sepconv.architecture"])) == SMALL

        session = onnxruntime.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
        found = session.run(["probabilities"], {"images": x.transpose(0, 3, 1, 2).copy()})[0]
        assert np.abs(found - np.asarray(model(x, training=False))).max() <= 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reference", "standard", "mobilenet_v1_025_32"])
def test_every_shipped_description_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert parity(["--description", name]) == 0, capsys.readouterr().out
    assert "all checks passed" in capsys.readouterr().out


def test_description_checks_run_on_weights_that_reach_the_output() -> None:
    """Fresh MobileNet weights give every class exactly 0.1 (any port matches that): --description
    randomizes biases and BatchNorm statistics, so the output depends on every layer."""
    import argparse

    from parity.harness.cli import _described

    args = argparse.Namespace(description="mobilenet_v1_025_32", seed=0, keras=None, torch=None)
    model, arch = _described(args)
    x = np.random.default_rng(0).normal(0.0, 1.0, (4, *arch.input_shape))
    probabilities = np.asarray(model(x, training=False))
    assert np.abs(probabilities - 0.1).max() > 1e-4
