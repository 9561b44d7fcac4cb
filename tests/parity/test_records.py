"""Structured mismatches, dtype refusal, paths as entry-point arguments, foreign state-dict keys."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import torch
from parity_helpers import tutorial_model

import sepconv_keras
import sepconv_torch
from parity import WeightMismatchError, keras_to_torch, torch_to_keras
from parity.converter import save_weights_file


def test_records_name_row_side_layer_weight_shapes_and_dtypes() -> None:
    wrong = tutorial_model(dense_units=64)
    with pytest.raises(WeightMismatchError) as caught:
        keras_to_torch(wrong)
    records = caught.value.mismatches
    assert [(m.kind, m.side, m.spec_layer, m.weight) for m in records] == [
        ("shape", "source", "dense1", "kernel"),
        ("shape", "source", "dense1", "bias"),
        ("shape", "source", "dense2", "kernel"),
    ]
    first = records[0]
    assert first.layer == wrong.layers[-2].name and first.row is not None
    assert first.row.torch_key == "dense1.weight"
    assert (first.expected_shape, first.found_shape) == ((1152, 128), (1152, 64))
    assert first.found_dtype == "float32" and first.expected_dtype == "float32"


def test_dtype_mismatch_is_refused_unless_cast(random_model: keras.Model) -> None:
    model64 = sepconv_keras.build_model(dtype="float64", seed=2)
    target = sepconv_torch.build_model(seed=1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightMismatchError) as caught:
        keras_to_torch(model64, target)
    records = caught.value.mismatches
    assert len(records) == 21 and {m.kind for m in records} == {"dtype"}
    assert (records[0].found_dtype, records[0].expected_dtype) == ("float64", "float32")
    assert "cast=True" in str(caught.value)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    keras_to_torch(model64, target, cast=True)
    assert target.conv1.weight.dtype == torch.float32
    assert keras_to_torch(model64).conv1.weight.dtype == torch.float64  # a built target follows the source


def test_entry_points_take_paths(tmp_path: Path, random_model: keras.Model) -> None:
    keras_file, torch_file = tmp_path / "m.keras", tmp_path / "m.ckpt"
    random_model.save(keras_file)
    net = keras_to_torch(str(keras_file))
    save_weights_file(net, torch_file)
    back = torch_to_keras(torch_file)
    assert all(
        np.array_equal(a, b) for a, b in zip(random_model.get_weights(), back.get_weights(), strict=True)
    )
    with pytest.raises(TypeError, match=r"m\.ckpt holds torch weights"):
        keras_to_torch(torch_file)
    with pytest.raises(TypeError, match=r"m\.keras holds keras weights"):
        torch_to_keras(keras_file)
    with pytest.raises(TypeError, match=r"expected a keras\.Model .* received int"):
        keras_to_torch(42)
    with pytest.raises(TypeError, match="received list"):
        torch_to_keras([1, 2])


def test_foreign_keys_matched_only_when_every_shape_fits(
    random_model: keras.Model, caplog: pytest.LogCaptureFixture
) -> None:
    state = keras_to_torch(random_model).state_dict()
    foreign = {f"layer{i}.param": v for i, v in enumerate(state.values())}
    with caplog.at_level(logging.WARNING, logger="parity.converter.torch_weights"):
        back = torch_to_keras(foreign)
    assert "matched by position" in caplog.text and "layer0.param -> conv1.weight" in caplog.text
    assert all(
        np.array_equal(a, b) for a, b in zip(random_model.get_weights(), back.get_weights(), strict=True)
    )
    foreign["layer20.param"] = torch.zeros(3)  # dense2.bias has 10
    caplog.clear()
    with pytest.raises(WeightMismatchError) as caught:
        torch_to_keras(foreign)
    kinds = [m.kind for m in caught.value.mismatches]
    assert kinds.count("missing") == 21 and kinds.count("unexpected") == 21 and not caplog.text
