"""``sepconv-keras train --strategy``: 2 replicas (mirrored, 2 logical CPUs) and 2 workers (multi-worker on
127.0.0.1) update the weights as one device at the same global batch, within float32 round-off.

Four steps at global batch 32 (two epochs of two), Nesterov momentum, augmentation: the batches
and their augmentation are a function of (seed, epoch, batch), so every layout trains on the same.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
from keras_runs import command, const_recipe, last_weights, run
from torch_runs import env

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

SHORT = ["--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "32", "--lr", "0.01"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return const_recipe(tmp_path_factory.mktemp("recipe") / "const.yaml")


@pytest.fixture(scope="module")
def one_device(tmp_path_factory: pytest.TempPathFactory, recipe: Path) -> Path:
    out = tmp_path_factory.mktemp("one")
    run("--recipe", str(recipe), *SHORT, "--output-dir", str(out))
    return out


def _metrics(out: Path) -> np.ndarray:
    return np.loadtxt(out / "metrics.csv", delimiter=",", skiprows=1)


def _assert_same_training(out: Path, reference: Path) -> None:
    from sepconv_keras.model import build_model

    got, expected = last_weights(out), last_weights(reference)
    initial = build_model(initializer="lecun_normal_dw", seed=42).get_weights()  # the start of both runs
    assert max(float(np.abs(a - b).max()) for a, b in zip(expected, initial, strict=True)) > 1e-3
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_metrics(out), _metrics(reference), rtol=1e-5)  # synced over replicas/workers


def test_mirrored_two_cpu_replicas(tmp_path: Path, recipe: Path, one_device: Path) -> None:
    run(
        "--recipe",
        str(recipe),
        *SHORT,
        "--output-dir",
        str(tmp_path),
        "--strategy",
        "mirrored",
        "--cpu-replicas",
        "2",
    )
    _assert_same_training(tmp_path, one_device)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_two_processes(tmp_path: Path, recipe: Path, one_device: Path) -> None:
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    args = [
        "--recipe",
        str(recipe),
        *SHORT,
        "--output-dir",
        str(tmp_path / "out"),
        "--strategy",
        "multi-worker",
    ]
    procs = []
    for index in (1, 0):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        procs.append(
            subprocess.Popen(
                command(*args),
                env={**env(), "TF_CONFIG": tf_config, "TMPDIR": str(tmp_path)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-4000:]
    _assert_same_training(tmp_path / "out", one_device)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # worker 1 wrote only scratch files, and removed them
