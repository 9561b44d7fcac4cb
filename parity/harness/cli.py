"""``sepconv-parity``: run every parity check and print the report; exit 1 if any check fails.

A ``--keras`` / ``--torch`` file of any other network of the family (:mod:`sepconv.arch`), or
``--description NAME|YAML``, is checked on its own description (:mod:`parity.harness.described`: counts,
forward float32 and float64 per layer, gradients, SGD step with buffers, round trip), with
random inputs of its shape.

Before the long run it checks what can be wrong with the input: the output
paths (``--json``, ``--plot``), the checkpoint, and the data (found by
:func:`sepconv.data.load_splits`). Errors print one line through
:func:`sepconv.errors.run_main` (status 2; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from parity.converter.convert import keras_copy
from parity.converter.errors import WeightFileError, WeightMismatchError
from parity.converter.files import check_file_weights, file_kind, load_weights_file
from parity.harness.broken import BROKEN_PORTS
from parity.harness.data import load_setup
from parity.harness.described import CORRECT, DESCRIBED_PORTS, randomize, run_described
from parity.harness.port import REFERENCE_PORT, Port
from parity.harness.report import format_table, save_json, save_plot
from parity.harness.suite import run_suite
from sepconv.errors import InputError, run_main, sigterm_raises
from sepconv.paths import check_output_path
from sepconv.spec import REFERENCE

__all__ = ["check_output_path", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sepconv-parity", description=__doc__.splitlines()[0])
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--keras", type=Path, metavar="FILE", help="trained Keras model (.keras, .h5, .weights.h5) to check"
    )
    start.add_argument(
        "--torch", type=Path, metavar="FILE", help="trained PyTorch weights (.ckpt, .safetensors, .pt, .pth)"
    )
    start.add_argument(
        "--description",
        metavar="NAME|YAML",
        help="check a description (shipped name or YAML file): seeded Keras kernels, random biases and "
        "BatchNorm statistics",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=300,
        metavar="K",
        help="trajectory length (default 300; a description: 10 at most)",
    )
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
        choices=["reference", *BROKEN_PORTS, *DESCRIBED_PORTS],
        default="reference",
        help="check a deliberately broken port instead (to see the checks fail); "
        f"for a description: {', '.join(DESCRIBED_PORTS)}",
    )
    p.add_argument(
        "--onnx",
        type=Path,
        metavar="FILE",
        help="run this ONNX export of the checked weights in ONNX Runtime (default: export the network)",
    )
    p.add_argument("--no-onnx", action="store_true", help="leave out the ONNX Runtime rows")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


#: what a refusal of unusable weights ends with
CONSEQUENCE = "parity of a broken model says nothing about the port"


def _start(args: argparse.Namespace) -> keras.Model | None:
    """The trained model to check, as a float32 reference Keras model (``None``: train one)."""
    for path, want in ((args.keras, "keras"), (args.torch, "torch")):
        if path is None:
            continue
        if file_kind(path) != want:
            raise WeightFileError(
                f"{path}: --{want} needs a {want} weight file, this is a {file_kind(path)} one"
            )
        return keras_copy(check_file_weights(load_weights_file(path), path, CONSEQUENCE), "float32")
    return None


def _described(args: argparse.Namespace) -> Any:
    """``(Keras model, description)`` when the input is a network of the family other than the
    reference (or ``--description``); ``None`` for the reference network's files and no input."""
    from parity.converter.described import keras_described, keras_model, torch_described

    if args.description is not None:
        from sepconv.arch import description_path, load_yaml
        from sepconv_keras.arch import build_keras

        arch = load_yaml(description_path(args.description))
        return randomize(build_keras(arch, "float64", seed=args.seed), args.seed), arch
    if args.torch is not None and file_kind(args.torch) == "torch":
        found = torch_described(args.torch, consequence=CONSEQUENCE)
        return None if found is None else (keras_model(found), found.arch)
    if args.keras is not None and file_kind(args.keras) == "keras":
        try:
            _start(args)
        except (WeightFileError, WeightMismatchError) as refusal:
            found = keras_described(args.keras, consequence=CONSEQUENCE)
            if found is None:
                raise refusal from None
            return keras_model(found), found.arch
    return None


def _run_described(args: argparse.Namespace, model: Any, arch: Any) -> int:
    if args.port != "reference" and args.port not in DESCRIBED_PORTS:
        raise InputError(
            f"--port {args.port} breaks the reference network; for a description: "
            f"{', '.join(DESCRIBED_PORTS)}"
        )
    if args.onnx is not None:
        raise InputError(f"--onnx {args.onnx}: ONNX rows serve the reference network only")
    port = CORRECT if args.port == "reference" else DESCRIBED_PORTS[args.port]
    from parity.harness.checks import onnx_runtime_available

    onnx = not args.no_onnx and onnx_runtime_available()
    report = run_described(model, arch, port, args.seed, steps=min(args.steps, 10), onnx=onnx)
    print(format_table(report))
    if args.json is not None:
        save_json(report, args.json)
    if args.plot is not None:
        save_plot(report, args.plot, [layer.name for layer in arch.layers])
    return 0 if report.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 if every check passed, 1 if any failed, 2 on a usage or file error."""
    args = _parser().parse_args(argv)

    def run() -> int:
        if args.steps < 1:
            raise InputError(f"--steps must be at least 1, received {args.steps}")
        if args.json is not None:
            check_output_path(args.json, "--json")
        if args.plot is not None:
            check_output_path(args.plot, "--plot", ".png")
        described = _described(args)
        if described is not None:
            return _run_described(args, *described)
        if args.port in DESCRIBED_PORTS:
            raise InputError(
                f"--port {args.port} breaks a description's port; give --keras, --torch or "
                "--description of a network other than the reference"
            )
        port: Port = REFERENCE_PORT if args.port == "reference" else BROKEN_PORTS[args.port].port
        start = _start(args)
        if args.onnx is not None and (not args.onnx.is_file() or args.onnx.suffix.lower() != ".onnx"):
            raise InputError(f"--onnx {args.onnx}: expected an existing .onnx file")
        if args.onnx is not None and start is None:
            raise InputError(
                f"--onnx {args.onnx}: also give the weights it was exported from (--keras or --torch)"
            )
        setup = load_setup(args.steps, args.seed)  # finds the data (or says where it looked) before the run
        setup = dataclasses.replace(setup, onnx=args.onnx)
        onnx = False if args.no_onnx else None
        report = run_suite(port, setup, start, args.seed, args.float64, onnx=onnx)
        print(format_table(report))
        if args.json is not None:
            save_json(report, args.json)
        if args.plot is not None:
            save_plot(report, args.plot, [layer.name for layer in REFERENCE])
        return 0 if report.passed else 1

    with sigterm_raises():  # SIGTERM: status 143, no half-written --json or --plot
        return run_main("sepconv-parity", run, argv)


if __name__ == "__main__":
    sys.exit(main())
