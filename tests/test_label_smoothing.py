"""``model.label_smoothing``: Keras' loss is PyTorch's ``F.cross_entropy(..., label_smoothing=e)``."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sepconv.recipes import Recipe, RecipeError
from sepconv_keras.losses import SmoothedSparseCrossentropy, make_loss
from sepconv_torch import SepConvLitModule


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_keras_loss_equals_torch(smoothing: float) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((64, 10))  # Keras clips probabilities at 1e-7: keep them above it
    labels = rng.integers(0, 10, 64)
    expected = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels), label_smoothing=smoothing)
    probabilities = torch.softmax(torch.from_numpy(logits), -1).numpy()
    got = SmoothedSparseCrossentropy(smoothing)(labels, probabilities)
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-6)


def test_reference_keeps_keras_builtin_loss() -> None:
    assert make_loss(0.0) == "sparse_categorical_crossentropy"
    loss = keras.losses.deserialize(keras.losses.serialize(make_loss(0.2)))
    assert isinstance(loss, SmoothedSparseCrossentropy) and loss.label_smoothing == 0.2


def test_torch_module_uses_it() -> None:
    batch = (torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,)))
    module = SepConvLitModule(label_smoothing=0.1)
    with torch.no_grad():
        module.net.dense2.bias.copy_(torch.linspace(-3, 3, 10))  # far from uniform predictions
        logits = module(batch[0])
    smoothed = module.training_step(batch, 1)
    torch.testing.assert_close(smoothed, F.cross_entropy(logits, batch[1], label_smoothing=0.1))
    assert abs(float(smoothed) - float(F.cross_entropy(logits, batch[1]))) > 1e-3


@pytest.mark.parametrize("bad", [-0.1, 1.0, "x"])
def test_out_of_range_is_refused(bad: object) -> None:
    with pytest.raises(RecipeError, match=r"model.label_smoothing must be"):
        Recipe(label_smoothing=bad)  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match=r"label_smoothing must be"):
        SepConvLitModule(label_smoothing=bad)  # type: ignore[arg-type]
