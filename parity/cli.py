"""``sepconv-parity``: run every parity check and print the report; exit 1 if any check fails."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import keras

from parity.broken import BROKEN_PORTS
from parity.convert import torch_to_keras
from parity.errors import WeightMismatchError
from parity.io import WeightFileError, load_weights_file
from parity.port import REFERENCE_PORT, Port
from parity.report import format_table, load_setup, run_report, save_json, save_plot
from parity.weights import as_dtype
from sepconv.spec import REFERENCE

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sepconv-parity", description=__doc__)
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--keras", type=Path, metavar="FILE", help="trained Keras model (.keras, .h5) to check"
    )
    start.add_argument(
        "--torch", type=Path, metavar="FILE", help="trained PyTorch weights (.ckpt, .safetensors, .pt)"
    )
    p.add_argument("--steps", type=int, default=300, metavar="K", help="trajectory length (default 300)")
    p.add_argument(
        "--float64",
        action="store_true",
        help="float64 trajectory over all K steps (default 25; slow) and checks 4-6 in float64 too",
    )
    p.add_argument("--seed", type=int, default=0, help="initial weights and batch order (default 0)")
    p.add_argument("--json", type=Path, metavar="PATH", help="write every result and curve as JSON")
    p.add_argument(
        "--plot", type=Path, metavar="PATH", help="write a PNG of per-layer and per-step differences"
    )
    p.add_argument(
        "--port",
        choices=["reference", *BROKEN_PORTS],
        default="reference",
        help="check a deliberately broken port instead (to see the checks fail)",
    )
    return p


def _start(args: argparse.Namespace) -> keras.Model | None:
    if args.keras is not None:
        model = load_weights_file(args.keras)
        if not isinstance(model, keras.Model):
            raise WeightFileError(f"{args.keras}: --keras needs a .keras or .h5 file")
        return as_dtype(model, "float32")
    if args.torch is not None:
        state = load_weights_file(args.torch)
        if isinstance(state, keras.Model):
            raise WeightFileError(f"{args.torch}: --torch needs a .ckpt, .safetensors, .pt or .pth file")
        return torch_to_keras(state)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 if every check passed, 1 if any failed, 2 on a usage or file error."""
    args = _parser().parse_args(argv)
    if args.steps < 1:
        print(f"sepconv-parity: error: --steps must be at least 1, received {args.steps}", file=sys.stderr)
        return 2
    port: Port = REFERENCE_PORT if args.port == "reference" else BROKEN_PORTS[args.port].port
    try:
        start = _start(args)
    except (WeightFileError, WeightMismatchError, OSError) as error:
        print(f"sepconv-parity: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    report = run_report(port, load_setup(args.steps, args.seed), start, args.seed, args.float64)
    print(format_table(report))
    if args.json is not None:
        save_json(report, args.json)
    if args.plot is not None:
        save_plot(report, args.plot, [layer.name for layer in REFERENCE])
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
