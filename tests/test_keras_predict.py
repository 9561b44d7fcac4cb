"""``sepconv-keras predict``: the two files of ``sepconv-torch predict``, for the test split or a folder."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sepconv.classes import CLASS_NAMES
from sepconv.data import FashionMNISTSplits, load_raw
from sepconv_keras.train import main

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sepconv_keras import build_model

    path = tmp_path_factory.mktemp("keras") / "model.keras"
    build_model(seed=0, initializer="lecun_normal_dw").save(path)
    return path


def test_test_split(model_file: Path, splits: FashionMNISTSplits, tmp_path: Path) -> None:
    import keras

    assert main(["predict", str(model_file), "--output-dir", str(tmp_path)]) == 0
    probs = np.load(tmp_path / "predictions.npy")
    expected = keras.saving.load_model(model_file).predict(splits.images("test")[:100], verbose=0)
    np.testing.assert_allclose(probs[:100], expected, atol=1e-6)
    rows = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    assert len(rows) == 10000 and rows[0]["label"] == CLASS_NAMES[int(splits.labels("test")[0])]
    assert rows[0]["predicted"] == CLASS_NAMES[int(probs[0].argmax())]


def test_folder_of_images_matches_the_test_split(model_file: Path, tmp_path: Path) -> None:
    from PIL import Image

    raw, _ = load_raw()
    folder = tmp_path / "images"
    folder.mkdir()
    for i in (0, 1):
        Image.fromarray(raw["test_images"][i]).save(folder / f"img{i}.png")
    assert (
        main(["predict", str(model_file), "--images", str(folder), "--output-dir", str(tmp_path / "a")]) == 0
    )
    assert main(["predict", str(model_file), "--output-dir", str(tmp_path / "b")]) == 0
    rows = list(csv.DictReader((tmp_path / "a" / "predictions.csv").open()))
    assert [Path(r["file"]).name for r in rows] == ["img0.png", "img1.png"] and rows[0]["label"] == ""
    np.testing.assert_allclose(
        np.load(tmp_path / "a" / "predictions.npy"),
        np.load(tmp_path / "b" / "predictions.npy")[:2],
        atol=1e-6,
    )


def test_missing_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(tmp_path / "nope.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.keras: expected an existing Keras model file" in err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("text.keras", b"not a zip file\n", "not a .keras model file (expected a zip archive)"),
        ("text.h5", b"not an HDF5 file\n", "not an .h5 model file (expected an HDF5 file)"),
        ("empty.h5", b"", "not an .h5 model file (expected an HDF5 file)"),
    ],
)
def test_wrong_container_is_one_line_before_tensorflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["predict", str(path), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}: {message}" in err
    assert not (tmp_path / "out").exists()
