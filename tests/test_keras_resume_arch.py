"""``sepconv-keras train --resume`` of a described network: the run records its network, a resume without
``--architecture`` continues it and ends bit-identical to an uninterrupted run (weights, BatchNorm moving
mean and variance, optimizer state: every array of ``last.keras``; the backup carries the Dropout's
seed state, so its masks continue as they would), another network is refused by name.

Tuned recipe (augmentation, Nesterov momentum, cosine schedule with warm-up), 2 epochs of 4 steps; the
run is ``kill -9``-ed once its first epoch is backed up."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from keras_runs import command, kill_after_first_backup, run
from torch_runs import env

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

SHORT = ["--recipe", "tuned", "--epochs", "2", "--steps-per-epoch", "4"]
MOBILENET = "mobilenet_v1_025_32"
NETWORKS = {"reference": [], MOBILENET: ["--architecture", MOBILENET]}


def _arrays(out: Path) -> dict[str, np.ndarray]:
    """Every array saved in ``out/last.keras``: the layers' (``layers/...``) and the optimizer's."""
    with zipfile.ZipFile(out / "last.keras") as archive:
        data = archive.read("model.weights.h5")
    found: dict[str, np.ndarray] = {}

    def keep(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            found[name] = item[()]

    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(keep)
    return found


@pytest.fixture(scope="module", params=list(NETWORKS))
def network(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """``(network, output folder of its uninterrupted run)``."""
    out = tmp_path_factory.mktemp(f"whole-{request.param}")
    run(*SHORT, *NETWORKS[request.param], "--output-dir", str(out))
    return request.param, out


@pytest.fixture(scope="module")
def killed_mobilenet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of a MobileNet run killed after its first epoch (tests copy it)."""
    out = tmp_path_factory.mktemp("killed-mobilenet") / "out"
    kill_after_first_backup(out, *SHORT, *NETWORKS[MOBILENET])
    return out


def test_resume_without_architecture_is_bit_identical(network: tuple[str, Path], tmp_path: Path) -> None:
    name, whole = network
    out = tmp_path / "out"
    kill_after_first_backup(out, *SHORT, *NETWORKS[name])
    recorded = json.loads((out / "backup" / "run.json").read_text())["architecture"]
    assert (recorded is None) if name == "reference" else (recorded["name"] == name == recorded["source"])
    with h5py.File(out / "backup" / "latest.weights.h5", "r") as f:  # the Dropout's SeedGenerator state
        seeds = f.attrs.get("sepconv_seed_states")
    assert (seeds is None) if name == "reference" else (seeds.shape == (1, 2))

    run(*SHORT, "--output-dir", str(out), "--resume")  # no --architecture: the recorded network
    expected, resumed = _arrays(whole), _arrays(out)
    assert list(resumed) == list(expected)
    assert any(k.startswith("optimizer/") and v.ndim for k, v in expected.items())  # momentum buffers
    if name == MOBILENET:  # BatchNormalization: gamma, beta, moving mean, moving variance
        moving = [k for k in expected if "batch_normalization" in k and k.endswith(("vars/2", "vars/3"))]
        assert len(moving) == 2 * 27
    differ = [k for k in expected if not np.array_equal(resumed[k], expected[k])]
    assert not differ, f"resumed arrays differ in {differ[:5]}"
    rows, rows_whole = (list(csv.DictReader((o / "metrics.csv").open())) for o in (out, whole))
    assert rows == rows_whole


def _resume(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*SHORT, "--output-dir", str(out), "--resume", *args),
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _built_in(options: dict) -> dict:
    return {**options, "architecture": None}


def _edited(options: dict) -> dict:
    """The record with the MobileNet's Dropout rate changed: the same name, another description."""
    layers = options["architecture"]["description"]["layers"]
    dropout = next(layer for layer in layers if layer["class"] == "Dropout")
    dropout["rate"] = 0.5 if dropout.get("rate") != 0.5 else 0.25
    return options


BOTH = f"network {MOBILENET!r}"
CASES = {
    "another": (None, ["--architecture", "standard"], "network 'standard'", BOTH),
    "another-override": (None, ["--architecture", "standard", "--override"], "network 'standard'", BOTH),
    "built-in-record": (_built_in, ["--architecture", MOBILENET], BOTH, "the built-in reference network"),
    "same-name": (_edited, ["--architecture", MOBILENET], BOTH, f"{BOTH} (another description under"),
}


@pytest.mark.parametrize(("edit", "given", "named", "interrupted"), list(CASES.values()), ids=list(CASES))
def test_another_network_is_refused_naming_both(
    killed_mobilenet: Path, tmp_path: Path, edit: Any, given: list[str], named: str, interrupted: str
) -> None:
    out = tmp_path / "out"
    shutil.copytree(killed_mobilenet, out)
    record = out / "backup" / "run.json"
    if edit is not None:
        record.write_text(json.dumps(edit(json.loads(record.read_text()))))
    before = {p.name: p.read_bytes() for p in (out / "backup").iterdir()}
    refused = _resume(out, *given)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr[-3000:]
    assert f"--architecture: {named} is not the network of the interrupted run, {interrupted}" in lines[0]
    assert "--override cannot change the network" in lines[0]
    assert {p.name: p.read_bytes() for p in (out / "backup").iterdir()} == before  # nothing changed
