"""sepconv-convert on networks of the family other than the reference: Keras file -> .ckpt -> Keras file.

The five models a Keras user brings (the tutorial with relu, with conv1 at 64 filters, with a
BatchNormalization after conv1, with a Dropout before dense1, and Keras' own MobileNet at width 0.25 for
32x32) are saved with ``model.save`` and converted both ways: the PyTorch network gives Keras' outputs
(float32, scale-aware bound), and the weights come back bit-exact.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import torch

from parity.converter.cli import main
from parity.converter.described import CHECKPOINT_KEY, keras_described, torch_described, torch_network
from sepconv.arch import from_dict


def _tutorial(
    activation: str = "selu", conv1: int = 32, bn: bool = False, dropout: bool = False
) -> keras.Model:
    L = keras.layers
    head = [L.Conv2D(conv1, 3, padding="same", activation=activation, input_shape=(28, 28, 1))]
    head += [L.BatchNormalization()] if bn else []
    tail = [L.Dropout(0.5)] if dropout else []
    return keras.Sequential(
        [
            *head,
            L.SeparableConv2D(32, 3, padding="same", activation=activation),
            L.MaxPool2D(),
            L.SeparableConv2D(64, 3, padding="same", activation=activation),
            L.MaxPool2D(),
            L.Flatten(),
            *tail,
            L.Dense(32, activation=activation),
            L.Dense(10, activation="softmax"),
        ]
    )


def _mobilenet() -> keras.Model:
    return keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=10)


MODELS: dict[str, Callable[[], keras.Model]] = {
    "relu": lambda: _tutorial(activation="relu"),
    "conv1_64": lambda: _tutorial(conv1=64),
    "batchnorm": lambda: _tutorial(bn=True),
    "dropout": lambda: _tutorial(dropout=True),
    "mobilenet": _mobilenet,
}


def _randomize(model: keras.Model, seed: int = 0) -> None:
    """Non-zero biases and BatchNorm statistics, so every weight's place is tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = []
        for variable in layer.weights:
            path = getattr(variable, "path", variable.name)  # tf.keras: name ``layer/gamma:0``
            name, shape = path.rsplit("/", 1)[-1].split(":")[0], tuple(variable.shape)
            if "kernel" in name:
                arrays.append(np.asarray(variable))
            elif name in ("gamma", "moving_variance"):
                arrays.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
            else:
                arrays.append(rng.normal(0.0, 0.1, shape).astype("float32"))
        if arrays:
            layer.set_weights(arrays)


def _weights(model: Any) -> dict[str, list[np.ndarray]]:
    return {la.name: [np.asarray(w) for w in la.get_weights()] for la in model.layers if la.weights}


def _torch_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    described = torch_described(path)
    assert described is not None
    net = torch_network(described)
    with torch.no_grad():
        logits = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return torch.softmax(logits, dim=1).numpy()


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("relu", ".keras"),
        ("conv1_64", ".h5"),
        ("batchnorm", ".keras"),
        ("dropout", ".h5"),
        ("mobilenet", ".keras"),
    ],
)
def test_family_model_converts_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, suffix: str
) -> None:
    keras.utils.set_random_seed(0)
    model = MODELS[name]()
    _randomize(model)
    src, ckpt, back = tmp_path / f"model{suffix}", tmp_path / "model.ckpt", tmp_path / f"back{suffix}"
    model.save(src)
    assert main([str(src), str(ckpt)]) == 0, capsys.readouterr().err
    assert main([str(ckpt), str(back)]) == 0, capsys.readouterr().err

    x = np.random.default_rng(1).normal(0.0, 1.0, (8, *model.input_shape[1:])).astype("float32")
    want = np.asarray(model(x, training=False))
    got = _torch_probabilities(ckpt, x)
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))

    stored = torch.load(ckpt, weights_only=True)  # the description travels in the checkpoint
    assert from_dict(stored[CHECKPOINT_KEY]) == keras_described(src).arch  # type: ignore[union-attr]
    assert all(key.startswith("net.") for key in stored["state_dict"])

    original, returned = _weights(model), _weights(keras.saving.load_model(back))
    assert original.keys() == returned.keys()
    for layer, arrays in original.items():
        assert len(arrays) == len(returned[layer])
        for a, b in zip(arrays, returned[layer], strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b), layer


def _branch_model() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    y = keras.layers.Conv2D(4, 3, padding="same", name="c2")(x)
    x = keras.layers.Add(name="skip")([x, y])
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(x))


def _dilated_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, dilation_rate=2, name="wide"),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (_branch_model, "layer 'skip' (Add): a branch"),
        (_dilated_model, "layer 'wide' (Conv2D): dilation_rate=[2, 2] is not supported"),
    ],
)
def test_outside_the_family_one_line_and_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], build: Callable[[], keras.Model], named: str
) -> None:
    src = tmp_path / "model.keras"
    build().save(src)
    assert main([str(src), str(tmp_path / "out.ckpt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(src) in err and named in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


@pytest.mark.parametrize("middle", [".safetensors", ".pt"])
def test_float64_through_every_torch_format_is_bit_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], middle: str
) -> None:
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float64")
    try:
        model = _tutorial(bn=True)
    finally:
        keras.config.set_dtype_policy("float32")
    _randomize(model)
    src, mid, back = tmp_path / "m.keras", tmp_path / f"m{middle}", tmp_path / "back.h5"
    model.save(src)
    assert main([str(src), str(mid)]) == 0, capsys.readouterr().err
    assert main([str(mid), str(back)]) == 0, capsys.readouterr().err
    original, returned = _weights(model), _weights(keras.saving.load_model(back))
    for layer, arrays in original.items():
        for a, b in zip(arrays, returned[layer], strict=True):
            assert a.dtype == np.float64 and b.dtype == np.float64 and np.array_equal(a, b), layer


def test_checkpoint_weight_that_does_not_fit_its_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _tutorial(activation="relu")
    src, ckpt = tmp_path / "m.keras", tmp_path / "m.ckpt"
    model.save(src)
    assert main([str(src), str(ckpt)]) == 0
    stored = torch.load(ckpt, weights_only=True)
    key = next(k for k, v in stored["state_dict"].items() if v.shape == (32, 3136))  # the first Dense
    stored["state_dict"][key] = torch.zeros(5, 5)
    torch.save(stored, ckpt)
    assert main([str(ckpt), str(tmp_path / "out.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{key.removeprefix('net.')} has shape (5, 5), the description (32, 3136)" in err, err
    assert not (tmp_path / "out.keras").exists()


def test_keras2_h5_of_the_family_converts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """tf.keras (the Keras 2 line) names its weights ``layer/kernel:0`` in the legacy layout."""
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    L = tf_keras.layers
    model = tf_keras.Sequential(
        [
            L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", input_shape=(9, 9, 2)),
            L.BatchNormalization(),
            L.ReLU(max_value=6.0),
            L.GlobalAveragePooling2D(),
            L.Dense(4, activation="softmax"),
        ]
    )
    _randomize(model)
    src, ckpt = tmp_path / "k2.h5", tmp_path / "k2.ckpt"
    model.save(src)
    assert main([str(src), str(ckpt)]) == 0, capsys.readouterr().err
    x = np.random.default_rng(1).normal(0.0, 1.0, (4, 9, 9, 2)).astype("float32")
    want = model.predict(x, verbose=0)
    assert np.abs(_torch_probabilities(ckpt, x) - want).max() <= 1e-5


def test_weights_file_with_a_json_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keras' other way to ship a model: ``model.to_json()`` beside ``save_weights``."""
    keras.utils.set_random_seed(0)
    model = _tutorial(bn=True, dropout=True)
    _randomize(model)
    config, weights, ckpt = tmp_path / "m.json", tmp_path / "m.weights.h5", tmp_path / "m.ckpt"
    config.write_text(model.to_json())
    model.save_weights(weights)
    assert main([str(weights), str(ckpt), "--config", str(config)]) == 0, capsys.readouterr().err
    x = np.random.default_rng(1).normal(0.0, 1.0, (4, 28, 28, 1)).astype("float32")
    want = np.asarray(model(x, training=False))
    assert np.abs(_torch_probabilities(ckpt, x) - want).max() <= 1e-5
    assert main([str(weights), str(tmp_path / "x.ckpt"), "--config", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in capsys.readouterr().err
    assert not (tmp_path / "x.ckpt").exists()
