"""Keras weight files read with h5py and JSON: .weights.h5, configs checked, Keras 2 .h5 from tf_keras."""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from parity_helpers import torch_probs, tutorial_model

from parity import StoredKerasModel, WeightFileError, keras_to_torch
from parity.converter.cli import main
from parity.converter.files import load_weights_file
from parity.harness.data import Setup


def _same(a: keras.Model | StoredKerasModel, b: keras.Model | StoredKerasModel) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_weights_h5_converts_both_ways(tmp_path: Path, random_model: keras.Model) -> None:
    src, middle, end = tmp_path / "m.weights.h5", tmp_path / "m.safetensors", tmp_path / "back.weights.h5"
    random_model.save_weights(src)
    assert main([str(src), str(middle)]) == 0
    assert main([str(middle), str(end)]) == 0
    assert _same(random_model, load_weights_file(end))
    again = keras.models.clone_model(random_model)
    again.load_weights(end)  # Keras itself reads what was written
    assert _same(random_model, again)


def test_files_are_read_without_the_keras_loader(
    tmp_path: Path, random_model: keras.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    for suffix in (".keras", ".h5", ".weights.h5"):
        path = tmp_path / f"m{suffix}"
        random_model.save_weights(path) if suffix == ".weights.h5" else random_model.save(path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Keras loader was called")

    for name in ("load_model", "load_weights"):
        monkeypatch.setattr(keras.saving, name, refuse, raising=False)
    monkeypatch.setattr(keras.models, "load_model", refuse)
    monkeypatch.setattr(keras.Model, "load_weights", refuse)
    for suffix in (".keras", ".h5", ".weights.h5"):
        loaded = load_weights_file(tmp_path / f"m{suffix}")
        assert isinstance(loaded, StoredKerasModel) and _same(random_model, loaded)


def test_a_lambda_layer_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layers = tutorial_model().layers
    model = keras.Sequential(
        [*layers[:10], keras.layers.Lambda(lambda t: t * 2.0, name="doubler"), *layers[10:]]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(WeightFileError, match=r"layer 'doubler' \(Lambda\)"):
        load_weights_file(path)
    assert main([str(path), str(tmp_path / "out.ckpt")]) == 2
    assert "'doubler' (Lambda)" in capsys.readouterr().err
    assert not (tmp_path / "out.ckpt").exists()


def test_a_changed_activation_in_the_config_is_refused(tmp_path: Path) -> None:
    model = tutorial_model()
    model.layers[1].activation = keras.activations.relu
    path = tmp_path / "relu.h5"
    model.save(path)
    with pytest.raises(WeightFileError, match="activation='relu', the reference has 'selu'"):
        load_weights_file(path)


def test_keras2_h5_from_tf_keras_converts(tmp_path: Path, setup: Setup) -> None:
    """The tutorial's Sequential as TF 2.0's tf.keras (the Keras 2 line) saved it with ModelCheckpoint."""
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    model = tutorial_model(api=tf_keras)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    path = tmp_path / "fashion_mnist_model.h5"
    checkpoint = tf_keras.callbacks.ModelCheckpoint(str(path))
    model.fit(
        setup.x_train[:256], setup.y_train[:256], batch_size=32, epochs=1, verbose=0, callbacks=[checkpoint]
    )
    x = setup.x_eval[:16]
    expected = model.predict(x, verbose=0)
    with h5py.File(path) as f:  # really the Keras 2 layout
        assert f.attrs["keras_version"].startswith("2.")
        assert "model_weights/conv2d/conv2d/kernel:0" in f
    net = keras_to_torch(path)
    assert np.abs(torch_probs(net, x) - expected).max() <= 1e-5
    assert main([str(path), str(tmp_path / "out.safetensors")]) == 0
