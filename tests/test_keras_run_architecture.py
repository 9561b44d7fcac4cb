"""The network in a Keras run's record (``run.json``) and the refusal of a resume with another network,
without training (:mod:`sepconv_keras.run_options`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sepconv.described import read_architecture
from sepconv_keras.run_options import (
    ARCHITECTURE,
    architecture_record,
    architecture_refusal,
    read_options,
    write_options,
)

MOBILENET = "mobilenet_v1_025_32"


def _record(name: str, source: str | None = None) -> dict | None:
    return architecture_record(read_architecture(name), source or name)


def test_the_record_rebuilds_the_network(tmp_path: Path) -> None:
    record = _record(MOBILENET)
    write_options(tmp_path, {"lr": 0.01, ARCHITECTURE: record})
    saved = read_options(tmp_path)[ARCHITECTURE]
    assert saved == record and saved["name"] == MOBILENET == saved["source"]
    assert read_architecture(saved["description"]) == read_architecture(MOBILENET)
    assert architecture_record(None, None) is None  # the built-in reference model


@pytest.mark.parametrize(
    ("recorded", "given"),
    [(None, None), (MOBILENET, MOBILENET), ("standard", "standard")],
)
def test_the_same_network_is_no_refusal(recorded: str | None, given: str | None) -> None:
    assert architecture_refusal(recorded and _record(recorded), given and _record(given)) is None


def test_the_same_description_from_another_file_is_no_refusal(tmp_path: Path) -> None:
    from sepconv.arch import dump_yaml

    copy = tmp_path / "copy.yaml"
    dump_yaml(read_architecture(MOBILENET), copy)
    given = architecture_record(read_architecture(str(copy)), str(copy))
    assert architecture_refusal(_record(MOBILENET), given) is None


@pytest.mark.parametrize(
    ("recorded", "given", "words"),
    [
        (MOBILENET, "standard", "network 'standard' is not the network of the interrupted run, network "
         f"'{MOBILENET}';"),
        (None, "reference", "network 'reference' is not the network of the interrupted run, the built-in "
         "reference network (no --architecture);"),
    ],
)  # fmt: skip
def test_another_network_is_refused_naming_both(recorded: str | None, given: str, words: str) -> None:
    refusal = architecture_refusal(recorded and _record(recorded), _record(given))
    assert refusal is not None and "\n" not in refusal
    assert refusal.startswith(f"--architecture: {words}")
    assert "--override cannot change the network" in refusal


def test_another_description_under_the_same_name_is_refused(tmp_path: Path) -> None:
    arch = read_architecture(MOBILENET)
    layers = [dataclasses.replace(x, rate=0.5) if type(x).__name__ == "Dropout" else x for x in arch.layers]
    other = dataclasses.replace(arch, layers=tuple(layers))
    refusal = architecture_refusal(_record(MOBILENET), architecture_record(other, "mine.yaml"))
    assert refusal is not None
    assert f"network '{MOBILENET}' from mine.yaml is not the network of the interrupted run" in refusal
    assert "(another description under the same name)" in refusal
    assert json.dumps(architecture_record(other, "mine.yaml"))  # JSON data throughout
