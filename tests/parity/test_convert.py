"""Weight transfer: structural matching, all-or-nothing validation, every mismatch reported."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import torch
from parity_helpers import torch_probs, tutorial_model

import sepconv_keras
import sepconv_torch
from parity import WeightMismatchError, keras_to_torch, torch_to_keras
from parity.converter.files import load_weights_file


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_tutorial_model_file_converts(tmp_path: Path, suffix: str, setup) -> None:
    model = tutorial_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    names = [layer.name for layer in model.layers]
    assert "separable_conv2d" in names[1] and names[-1].startswith("dense")
    callback = keras.callbacks.ModelCheckpoint(str(tmp_path / f"model{suffix}"))
    model.fit(
        setup.x_train[:64], setup.y_train[:64], batch_size=32, epochs=1, verbose=0, callbacks=[callback]
    )
    loaded = load_weights_file(tmp_path / f"model{suffix}")
    net = keras_to_torch(loaded)
    x = setup.x_eval[:64]
    assert np.abs(torch_probs(net, x) - model.predict(x, verbose=0)).max() <= 1e-5
    back = torch_to_keras(net, tutorial_model())
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), back.get_weights(), strict=False))


def test_lightning_module_and_prefixed_state_dict(random_model: keras.Model) -> None:
    lit = sepconv_torch.SepConvLitModule()
    assert keras_to_torch(random_model, lit) is lit
    state = lit.state_dict()
    assert next(iter(state)).startswith("net.")
    for src in (lit, state, lit.net, lit.net.state_dict()):
        back = torch_to_keras(src)
        assert all(
            np.array_equal(a, b) for a, b in zip(random_model.get_weights(), back.get_weights(), strict=False)
        )


def test_every_mismatch_is_reported_and_target_unchanged(random_model: keras.Model) -> None:
    wrong = tutorial_model(dense_units=64)  # dense1 (1152, 64) and dense2 (64, 10)
    target = sepconv_torch.build_model(seed=5)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightMismatchError) as caught:
        keras_to_torch(wrong, target)
    problems = caught.value.problems
    assert len(problems) == 3  # dense1 kernel, dense1 bias, dense2 kernel
    text = str(caught.value)
    first, second = wrong.layers[-2].name, wrong.layers[-1].name  # automatic names: dense_N
    for expected in (
        f"Keras layer {first!r} weight 'kernel'",
        "PyTorch 'dense1.weight'",
        "expected (1152, 128)",
        "found (1152, 64)",
        "PyTorch 'dense1.bias'",
        "expected (128,)",
        f"Keras layer {second!r}",
        "expected (128, 10)",
        "found (64, 10)",
    ):
        assert expected in text
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_missing_and_unexpected_weights(random_model: keras.Model) -> None:
    net = sepconv_torch.build_model()
    net.sepconv3.conv_pw = torch.nn.Conv2d(64, 64, 1, bias=False)
    target = sepconv_keras.build_model(seed=3)
    before = [w.copy() for w in target.get_weights()]
    with pytest.raises(WeightMismatchError) as caught:
        torch_to_keras(net, target)
    assert any(
        "no 'sepconv3.conv_pw.bias'" in p and "found nothing in the source" in p
        for p in caught.value.problems
    )
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights(), strict=False))
    extra = keras.Sequential([*tutorial_model().layers, keras.layers.Dense(3)])
    with pytest.raises(WeightMismatchError, match="unexpected Keras layer 'dense_"):
        keras_to_torch(extra)
