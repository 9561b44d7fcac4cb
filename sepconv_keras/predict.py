"""``sepconv-keras predict MODEL``: class probabilities of the test split or of your own images, as files.

Writes ``predictions.npy`` (``(N, 10)`` float32) and ``predictions.csv`` (class names; see
:func:`sepconv.predictions.write_predictions_csv`) into ``--output-dir``, the same two files as
``sepconv-torch predict``. Your own images (``--images FOLDER``) are made 28x28 grey as Fashion-MNIST
(:mod:`sepconv.images`) and standardised with the training split's statistics, the ones the model was
trained with.

The model is checked before it runs: its output must be ``(N, 10)`` class probabilities, its layers
those of the sepconv network or of a described one ending in softmax (``train --architecture``; the
images are then presented to its input, :mod:`sepconv.data.present`), and its stored weights floating
point and finite (:func:`sepconv.weights.check_weights`); a refusal names the file. The two files are
written only once every prediction is made (:func:`sepconv.predictions.write_predictions`), so a failed
or interrupted run leaves the previous pair as it was.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sepconv.errors import InputError
from sepconv.paths import check_output_dir

__all__ = ["add_predict_parser", "predict"]

MODEL_SUFFIXES = (".keras", ".h5")


def add_predict_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help="class probabilities of the test split or of a folder of images")
    p.add_argument(
        "model", type=Path, help="a trained Keras model (.keras or .h5), e.g. runs/keras/best.keras"
    )
    p.add_argument(
        "--images", type=Path, help="a folder of PNG/JPEG images (default: the 10,000 test images)"
    )
    p.add_argument("--data-dir", help="directory with the four .gz files (for the statistics and test split)")
    p.add_argument("--output-dir", type=Path, default=Path("runs/keras"), help="where the two files go")
    return p


def check_container(path: Path) -> None:
    """Refuse a model file whose bytes are not its suffix's container, before TensorFlow loads.

    ``.keras`` is a zip archive, ``.h5`` an HDF5 file; Keras' own message for either mistake is
    "File not found" or an HDF5 traceback.
    """
    if path.suffix.lower() == ".keras":
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: not a .keras model file (expected a zip archive)")
        return
    import h5py

    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an .h5 model file (expected an HDF5 file)")


def predict(args: argparse.Namespace) -> Path:
    """Run ``args.model`` and write the predictions; returns the CSV's path."""
    from sepconv.data import load_splits
    from sepconv.images import load_image_folder
    from sepconv.predictions import write_predictions

    model_path: Path = args.model
    if not model_path.is_file() or model_path.suffix.lower() not in MODEL_SUFFIXES:
        raise InputError(f"{model_path}: expected an existing Keras model file ({', '.join(MODEL_SUFFIXES)})")
    check_container(model_path)
    check_output_dir(args.output_dir, "--output-dir")
    splits = load_splits(args.data_dir, download=args.data_dir is None)
    files: list[Path] | None = None
    labels: np.ndarray | None = None
    if args.images is not None:
        files, pixels = load_image_folder(args.images, splits.mean, splits.std)
        x = pixels[..., None]
    else:
        x, labels = splits.images("test"), splits.labels("test")

    from sepconv.compat import import_tensorflow

    import_tensorflow(quiet=True)
    import keras

    try:
        model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    # KeyError: a zip archive without Keras' config.json
    except (ValueError, TypeError, OSError, KeyError, zipfile.BadZipFile) as error:
        raise InputError(f"{model_path}: not a Keras model this version can load safely ({error})") from None
    check_model(model, model_path)
    from sepconv.data.present import present

    x = present(x, tuple(model.input_shape[1:]), splits.background)  # the reference's: x itself
    probabilities = np.asarray(model.predict(x, batch_size=500, verbose=0), dtype=np.float32)
    names = [str(f) for f in files] if files is not None else None
    npy, csv = write_predictions(args.output_dir, probabilities, labels, names)
    print(f"wrote {npy} and {csv} ({len(probabilities)} rows)")
    return csv


def _described(path: Path) -> bool:
    """Whether ``path`` holds a network of the description family ending in softmax over 10 classes."""
    from sepconv.arch import ArchitectureError, load_keras_architecture

    try:
        arch = load_keras_architecture(path)
    except ArchitectureError:
        return False
    return arch.classes == 10 and arch.ends_in_softmax()


def check_model(model: Any, path: Path) -> None:
    """Refuse ``model`` (loaded from ``path``) unless it is the sepconv network with usable weights:
    output ``(None, 10)``, the reference's layers and weight shapes, float and finite stored weights."""
    from sepconv.weights import check_weights
    from sepconv_keras.model import build_model
    from sepconv_keras.stored_weights import stored_weights

    output = tuple(model.output_shape) if hasattr(model, "output_shape") else None
    if output != (None, 10):
        raise InputError(
            f"{path}: the model's output has shape {output}, expected (None, 10) class probabilities"
        )
    reference = build_model()
    theirs = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers]
    ours = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in reference.layers]
    if theirs != ours and not _described(path):
        first = next(
            i for i in range(len(theirs) + 1) if i >= len(ours) or i >= len(theirs) or theirs[i] != ours[i]
        )
        found = f"{theirs[first][0]!r} {theirs[first][1]}" if first < len(theirs) else "missing"
        wanted = f"{ours[first][0]!r} {ours[first][1]}" if first < len(ours) else "no layer"
        raise InputError(
            f"{path}: not the sepconv network ({len(theirs)} layers, it has {len(ours)}): "
            f"layer {first + 1} is {found}, expected {wanted}"
        )
    check_weights(stored_weights(path), path, "nothing was predicted")
