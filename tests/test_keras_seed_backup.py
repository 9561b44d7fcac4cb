"""A Keras backup carries the model's ``SeedGenerator`` states (a ``Dropout``'s, which ``save_weights``
leaves out) and a restore puts them back (:class:`sepconv_keras.resume.AtomicBackupAndRestore`)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sepconv.compat import import_tensorflow

import_tensorflow()
import keras  # noqa: E402

from sepconv.described import read_architecture  # noqa: E402
from sepconv_keras.arch import build_keras  # noqa: E402
from sepconv_keras.resume import SEED_ATTR, AtomicBackupAndRestore, seed_states  # noqa: E402


def _model() -> keras.Model:
    model = build_keras(read_architecture("mobilenet_v1_025_32"), seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)  # as BackupAndRestore builds it before loading
    return model


def _draw(model: keras.Model) -> None:
    """Run the model in training mode once: its Dropout draws a mask and moves its seed state."""
    model(np.ones((2, 32, 32, 3), np.float32), training=True)


@pytest.mark.parametrize("stamped", [True, False], ids=["stamped", "older-backup"])
def test_the_dropout_seed_state_is_backed_up_and_restored(tmp_path: Path, stamped: bool) -> None:
    model = _model()
    (seed,) = seed_states(model)  # the one Dropout's
    assert seed.path.endswith("seed_generator_state") and not any(seed is w for w in model.weights)
    _draw(model)
    saved = np.asarray(seed.numpy()).copy()
    callback = AtomicBackupAndRestore(tmp_path)
    callback.set_model(model)
    callback.on_epoch_end(0)
    with h5py.File(tmp_path / "latest.weights.h5", "a") as f:
        np.testing.assert_array_equal(f.attrs[SEED_ATTR], saved[None])
        if not stamped:  # a backup written before the states were kept
            del f.attrs[SEED_ATTR]

    _draw(model)
    _draw(model)
    moved = np.asarray(seed.numpy()).copy()
    assert not np.array_equal(moved, saved)
    callback._load_model()  # what on_train_begin does on a resume
    np.testing.assert_array_equal(seed.numpy(), saved if stamped else moved)
