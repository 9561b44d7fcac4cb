"""``sepconv-convert SRC DST``: convert weights between Keras and PyTorch files, formats by extension.

Keras ``.keras`` / ``.h5`` / ``.weights.h5`` <-> Lightning ``.ckpt``,
``.safetensors`` (the exchange format) or a PyTorch state dict ``.pt`` /
``.pth``; same-framework pairs (``.h5`` -> ``.keras``, ``.ckpt`` ->
``.safetensors``) are re-written through the same validation. Every weight is
validated before anything is written (shapes, names, and every value finite: a
NaN or Inf weight makes a broken model in either framework); on any error one line goes to stderr
(:func:`sepconv.errors.run_main`: status 2), and DST is not created (nor an
existing DST changed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from parity.converter.convert import keras_copy, torch_copy
from parity.converter.errors import WeightFileError, WeightMismatchError
from parity.converter.files import FORMATS, format_of, load_weights_file, save_weights_file
from parity.converter.stored import StoredKerasModel
from sepconv.errors import run_main
from sepconv.paths import check_output_path

__all__ = ["convert_file", "main", "non_finite_weights"]


def non_finite_weights(model: StoredKerasModel | Mapping[str, torch.Tensor]) -> list[str]:
    """``"name (k of n)"`` for each floating-point weight of a loaded weight file holding NaN or Inf."""
    if isinstance(model, StoredKerasModel):
        arrays = {
            f"{layer.name}/{name}": torch.from_numpy(np.asarray(array))
            for layer in model.layers
            for name, array in layer.weights
        }
    else:
        arrays = dict(model)
    found = []
    for name, value in arrays.items():
        if value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                found.append(f"{name} ({bad} of {value.numel()})")
    return found


def convert_file(src: str | Path, dst: str | Path) -> Path:
    """Convert ``src`` to ``dst`` (formats by extension); ``WeightFileError`` naming the file if refused."""
    src, dst = Path(src), Path(dst)
    target = format_of(dst)  # an unknown DST extension or an unwritable DST fails before SRC is read
    check_output_path(dst, error=WeightFileError)
    model = load_weights_file(src)
    bad = non_finite_weights(model)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise WeightFileError(
            f"{src}: non-finite weights (NaN or Inf): {', '.join(bad[:3])}{more}; the converted model "
            "would be as broken, not written"
        )
    try:
        converted = keras_copy(model) if target.framework == "keras" else torch_copy(model)
    except WeightMismatchError as error:
        raise WeightFileError(f"{src}: {error.one_line()}") from error
    return save_weights_file(converted, dst)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sepconv-convert``; returns the exit status (0, or 2 for a refused input)."""
    parser = argparse.ArgumentParser(
        prog="sepconv-convert",
        description="Convert sepconv weights between Keras and PyTorch files; formats follow the extensions "
        f"({', '.join(sorted(FORMATS))}).",
    )
    parser.add_argument("src", type=Path, help="source weight file")
    parser.add_argument("dst", type=Path, help="destination file (written only if the conversion succeeds)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = parser.parse_args(argv)

    def run() -> int:
        convert_file(args.src, args.dst)
        print(f"wrote {args.dst}")
        return 0

    return run_main("sepconv-convert", run, argv)


if __name__ == "__main__":
    sys.exit(main())
