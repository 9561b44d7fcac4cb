"""``sepconv-keras predict MODEL``: class probabilities of the test split or of your own images, as files.

Writes ``predictions.npy`` (``(N, 10)`` float32) and ``predictions.csv`` (class names; see
:func:`sepconv.predictions.write_predictions_csv`) into ``--output-dir``, the same two files as
``sepconv-torch predict``. Your own images (``--images FOLDER``) are made 28x28 grey as Fashion-MNIST
(:mod:`sepconv.images`) and standardised with the training split's statistics, the ones the model was
trained with.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

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
    from sepconv.predictions import write_predictions_csv

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
    probabilities = np.asarray(model.predict(x, batch_size=500, verbose=0), dtype=np.float32)
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "predictions.npy", probabilities)
    names = [str(f) for f in files] if files is not None else None
    path = write_predictions_csv(out / "predictions.csv", probabilities, labels, names)
    print(f"wrote {out / 'predictions.npy'} and {path} ({len(probabilities)} rows)")
    return path
