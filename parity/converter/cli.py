"""``sepconv-convert SRC DST``: convert weights between Keras and PyTorch files, formats by extension.

The reference network converts as below; any other network of the family (:mod:`sepconv.arch`) converts
through its own description (:mod:`parity.converter.described`): a Keras file's config is read as data,
and a PyTorch file written from it carries the description, so it converts back with nothing else.
Outside the family, the whole model is refused in one line naming the first layer.

Keras ``.keras`` / ``.h5`` / ``.weights.h5`` <-> Lightning ``.ckpt``,
``.safetensors`` (the exchange format) or a PyTorch state dict ``.pt`` /
``.pth``; same-framework pairs (``.h5`` -> ``.keras``, ``.ckpt`` ->
``.safetensors``) are re-written through the same validation. Every weight is
validated before anything is written (shapes, names, and every weight floating point
and finite, :func:`sepconv.weights.check_weights`: an int32 kernel would be cast silently, a
NaN or Inf weight makes a broken model in either framework); on any error one line goes to stderr
(:func:`sepconv.errors.run_main`: status 2), and DST is not created (nor an
existing DST changed). An ``.onnx`` or ``.pt2`` DST records SRC's name and SHA-256, its recipe and
its test accuracy where known (:mod:`parity.converter.files.provenance`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from parity.converter.convert import keras_copy, torch_copy
from parity.converter.described import keras_described, torch_described, write_described
from parity.converter.errors import WeightFileError, WeightMismatchError
from parity.converter.files import (
    FORMATS,
    check_file_weights,
    format_of,
    load_weights_file,
    save_weights_file,
)
from parity.converter.files.provenance import source_metadata
from sepconv.errors import run_main, sigterm_raises
from sepconv.paths import check_output_path

__all__ = ["convert_file", "main"]


def convert_file(src: str | Path, dst: str | Path, config: str | Path | None = None) -> Path:
    """Convert ``src`` to ``dst`` (formats by extension); ``WeightFileError`` naming the file if refused.

    ``config``: the description of a Keras weights file ``src`` (a Keras model config ``.json``, a
    ``.keras`` / ``.h5`` model file, or a YAML description), its layer names those of ``src``."""
    src, dst = Path(src), Path(dst)
    target = format_of(dst)  # an unknown DST extension or an unwritable DST fails before SRC is read
    check_output_path(dst, error=WeightFileError)
    if config is not None:
        if format_of(src).framework != "keras":
            raise WeightFileError(f"{src}: --config describes a Keras weights file; this is a PyTorch one")
        if not src.is_file():
            raise WeightFileError(f"{src}: no such file")
        described = keras_described(src, Path(config))
        if described is None:
            raise WeightFileError(f"{src}: not a Keras weight file")
        return write_described(described, dst, target)
    format_of(src)
    described = torch_described(src)
    if described is not None:
        return write_described(described, dst, target)
    try:
        model = load_weights_file(src)
    except WeightFileError as error:
        refusal = error
    else:
        model = check_file_weights(model, src, "the converted model would be as broken, not written")
        try:
            converted = keras_copy(model) if target.framework == "keras" else torch_copy(model)
        except WeightMismatchError as error:
            refusal = WeightFileError(f"{src}: {error.one_line()}")
        else:
            metadata = source_metadata(src) if target.records_metadata else None
            return save_weights_file(converted, dst, metadata)
    # not the reference network: a Keras model of the family converts through its own description
    described = keras_described(src)
    if described is None:
        raise refusal
    return write_described(described, dst, target)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sepconv-convert``; returns the exit status (0, or 2 for a refused input)."""
    parser = argparse.ArgumentParser(
        prog="sepconv-convert",
        description="Convert sepconv weights between Keras and PyTorch files; formats follow the extensions "
        f"({', '.join(sorted(FORMATS))}).",
    )
    parser.add_argument("src", type=Path, help="source weight file")
    parser.add_argument("dst", type=Path, help="destination file (written only if the conversion succeeds)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the network of a Keras weights file SRC (.weights.h5): a model config .json (model.to_json()), "
        "a .keras/.h5 model file, or a YAML description",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = parser.parse_args(argv)

    def run() -> int:
        convert_file(args.src, args.dst, args.config)
        print(f"wrote {args.dst}")
        return 0

    with sigterm_raises():  # SIGTERM: the temporary file is removed, the destination untouched (143)
        return run_main("sepconv-convert", run, argv)


if __name__ == "__main__":
    sys.exit(main())
