"""``sepconv-convert SRC DST``: convert weights between Keras and PyTorch files, formats by extension.

Keras ``.keras`` / ``.h5`` <-> Lightning ``.ckpt``, ``.safetensors`` (the
exchange format) or a PyTorch state dict ``.pt`` / ``.pth``; same-framework
pairs (``.h5`` -> ``.keras``, ``.ckpt`` -> ``.safetensors``) are re-written
through the same validation. Every weight is validated before anything is
written; on any error one line goes to stderr, the exit status is 1 and DST is
not created (nor an existing DST changed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import keras
from torch import nn

import sepconv_keras
import sepconv_torch
from parity.convert import Model, keras_to_torch, torch_to_keras, transfer
from parity.errors import WeightMismatchError
from parity.io import WeightFileError, file_kind, load_weights_file, save_keras, save_torch
from parity.mapping import build_mapping

__all__ = ["convert_file", "main"]


def _float64(model: Model) -> bool:
    if isinstance(model, keras.Model):
        return any(str(v.dtype) == "float64" for v in model.weights)
    tensors = model.state_dict().values() if isinstance(model, nn.Module) else model.values()
    return any(str(t.dtype) == "torch.float64" for t in tensors)


def _as_keras(model: Model) -> keras.Model:
    if not isinstance(model, keras.Model):
        return torch_to_keras(model)
    dtype = "float64" if _float64(model) else "float32"
    return transfer(model, sepconv_keras.build_model(dtype=dtype), build_mapping())


def _as_torch(model: Model) -> nn.Module:
    if isinstance(model, keras.Model):
        return keras_to_torch(model)
    net = sepconv_torch.build_model()
    return transfer(model, net.double() if _float64(model) else net, build_mapping())


def convert_file(src: str | Path, dst: str | Path) -> Path:
    """Convert ``src`` to ``dst`` (formats by extension); ``WeightFileError`` naming the file on any problem."""
    src, dst = Path(src), Path(dst)
    kind = file_kind(dst)  # an unknown DST extension fails before SRC is read
    model = load_weights_file(src)
    try:
        if kind == "keras":
            return save_keras(_as_keras(model), dst)
        return save_torch(_as_torch(model), dst)
    except WeightMismatchError as error:
        raise WeightFileError(f"{src}: {error.one_line()}") from error


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sepconv-convert``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="sepconv-convert",
        description="Convert sepconv weights between Keras (.keras, .h5) and PyTorch "
        "(.ckpt, .safetensors, .pt, .pth) files; formats follow the extensions.",
    )
    parser.add_argument("src", type=Path, help="source weight file")
    parser.add_argument("dst", type=Path, help="destination file (written only if the conversion succeeds)")
    args = parser.parse_args(argv)
    try:
        convert_file(args.src, args.dst)
    except (WeightFileError, OSError) as error:
        print(f"sepconv-convert: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(f"wrote {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
