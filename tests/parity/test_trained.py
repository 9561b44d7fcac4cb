"""Parity on trained weights: the suite passes in both directions and still fails on every broken port."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import torch
from parity_helpers import torch_probs, train_tuned

from parity import torch_to_keras
from parity.converter import keras_copy, save_weights_file
from parity.harness.broken import BROKEN_PORTS
from parity.harness.checks import CHECKS
from parity.harness.cli import main
from parity.harness.data import Setup


@pytest.fixture(scope="module")
def trained_net(setup: Setup) -> torch.nn.Module:
    """200 steps of the tuned settings: logits reach ~15, where float32 round-off exceeds 1e-5 absolute."""
    return train_tuned(setup.x_train, setup.y_train, steps=200)


@pytest.fixture(scope="module")
def trained_keras(trained_net: torch.nn.Module) -> keras.Model:
    return torch_to_keras(trained_net)


@pytest.mark.slow
def test_trained_logits_are_large(trained_net: torch.nn.Module, setup: Setup) -> None:
    with torch.no_grad():
        logits = trained_net(torch.from_numpy(setup.x_eval.transpose(0, 3, 1, 2).copy()))
    assert float(logits.abs().max()) > 5  # the regime the scale-aware bounds exist for
    assert float(np.mean(torch_probs(trained_net, setup.x_eval).argmax(1) == setup.y_eval)) > 0.6


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["torch", "keras"])
def test_suite_passes_on_a_trained_model(
    direction: str, trained_net: torch.nn.Module, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if direction == "torch":
        path = save_weights_file(trained_net, tmp_path / "tuned.ckpt")
    else:
        path = save_weights_file(keras_copy(trained_net), tmp_path / "tuned.keras")
    out = tmp_path / "report.json"
    status = main([f"--{direction}", str(path), "--steps", "3", "--json", str(out)])
    table = capsys.readouterr().out
    assert status == 0, table
    report = json.loads(out.read_text())
    trained_row = next(r for r in report["results"] if r["label"] == "forward float32, trained weights")
    assert trained_row["passed"] and "max|logits|" in trained_row["detail"]


@pytest.mark.slow
@pytest.mark.parametrize("port", list(BROKEN_PORTS))
def test_broken_ports_still_fail_on_trained_weights(
    port: str, trained_keras: keras.Model, setup: Setup
) -> None:
    small = Setup(setup.x_eval[:64], setup.y_eval[:64], setup.x_train, setup.y_train, steps=3)
    passed = [
        check
        for check in BROKEN_PORTS[port].must_fail
        if CHECKS[check](trained_keras, BROKEN_PORTS[port].port, small, "float32").passed
    ]
    assert not passed, f"{port} passed {passed} on trained weights"
