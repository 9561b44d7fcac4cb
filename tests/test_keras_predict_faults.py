"""``sepconv-keras predict`` refuses a model that is not the sepconv network or whose stored weights are
unusable, naming the file, and writes its two files only once every prediction is made."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sepconv.data import load_raw
from sepconv_keras.train import main

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    raw, _ = load_raw()
    folder = tmp_path_factory.mktemp("images")
    for i in (0, 1):
        Image.fromarray(raw["test_images"][i]).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def previous(tmp_path: Path, images: Path) -> Path:
    """An output folder holding the predictions of a good model."""
    from sepconv_keras import build_model

    good = tmp_path / "good.keras"
    build_model(seed=0).save(good)
    out = tmp_path / "out"
    assert main(["predict", str(good), "--images", str(images), "--output-dir", str(out)]) == 0
    return out


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _refused(
    capsys: pytest.CaptureFixture[str], model: Path, images: Path, out: Path, *fragments: str
) -> None:
    before = _snapshot(out)
    assert main(["predict", str(model), "--images", str(images), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"sepconv-keras: error: {model}: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert _snapshot(out) == before  # the previous predictions are untouched, nothing else was left


def test_five_classes_are_refused(tmp_path, capsys, images, previous) -> None:
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    path = tmp_path / "five.keras"
    model.save(path)
    capsys.readouterr()
    _refused(capsys, path, images, previous, "output has shape (None, 5), expected (None, 10)")


def test_an_extra_layer_is_refused(tmp_path, capsys, images, previous) -> None:
    import keras

    from sepconv_keras import build_model

    layers = [keras.Input((28, 28, 1)), *build_model(seed=0).layers, keras.layers.Dense(10, name="extra")]
    model = keras.Sequential(layers)
    path = tmp_path / "extra.keras"
    model.save(path)
    capsys.readouterr()
    _refused(capsys, path, images, previous, "not the sepconv network", "'extra'")


def test_int32_weights_are_refused(tmp_path, capsys, images, previous) -> None:
    from sepconv_keras import build_model

    path = tmp_path / "ints.h5"
    build_model(seed=0).save(path)
    with h5py.File(path, "a") as f:
        names: list[str] = []
        f["model_weights"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for name in names:
            values = (f["model_weights"][name][()] * 100).astype(np.int32)
            del f["model_weights"][name]
            f["model_weights"][name] = values
    capsys.readouterr()
    _refused(capsys, path, images, previous, "unusable weights", "dtype int32, expected floating point")


def test_nan_weights_are_refused(tmp_path, capsys, images, previous) -> None:
    from sepconv_keras import build_model

    model = build_model(seed=0)
    kernel = model.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, dtype=np.float32))
    path = tmp_path / "nan.keras"
    model.save(path)
    capsys.readouterr()
    _refused(capsys, path, images, previous, "NaN or Inf (288 of 288)")


def test_a_failed_write_keeps_the_previous_pair(tmp_path, capsys, images, previous, monkeypatch) -> None:
    import sepconv.predictions

    real = sepconv.predictions.write_predictions_csv

    def disk_full(path, *args, **kwargs):
        real(path, *args, **kwargs)
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(sepconv.predictions, "write_predictions_csv", disk_full)
    before = _snapshot(previous)
    from sepconv_keras import build_model

    other = tmp_path / "other.keras"
    build_model(seed=1).save(other)
    assert main(["predict", str(other), "--images", str(images), "--output-dir", str(previous)]) == 1
    assert "no space left on device" in capsys.readouterr().err
    assert _snapshot(previous) == before
