"""One 3x3 'same' convolution, PyTorch against TensorFlow, in one process: forward, input gradient and
weight gradient, each timed alone.

Both frameworks call oneDNN on x86 CPUs. PyTorch runs ``F.conv2d`` and ``aten.convolution_backward``
(one output of the three at a time, then all three in one call, as autograd asks for them) on
channels-last tensors; TensorFlow runs ``Conv2D``, ``Conv2DBackpropInput`` and ``Conv2DBackpropFilter``
on NHWC tensors inside one ``tf.function`` that loops ``--reps`` times, so that neither framework's call
overhead is counted per kernel. The two alternate ``--turns`` times per piece; medians are printed with
the ratio PyTorch / TensorFlow. Batch 32; the default shapes are the ``standard`` description's 3x3
layers after conv1.

    python benchmarks/conv_ab.py
    python benchmarks/conv_ab.py --shapes 28,32,32 7,128,128 --turns 21
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_time import cpu_model

#: (height = width, input channels, output channels) of ``standard``'s 3x3 convolutions after conv1
SHAPES = ((28, 32, 32), (14, 32, 64), (14, 64, 64), (7, 64, 128), (7, 128, 128))
PIECES = ("forward", "input grad", "weight grad")


def _shape(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected SIZE,CIN,COUT of positive integers, received {text!r}")
    size, cin, cout = map(int, parts)
    return size, cin, cout


def pieces(
    tf: Any, shape: tuple[int, int, int], reps: int, batch: int = 32
) -> tuple[dict[str, Callable[[], Any]], dict[str, Callable[[], Any]], Callable[[], Any]]:
    """``(torch, tensorflow, torch_all)``: per piece a callable that runs it ``reps`` times, and PyTorch's
    one-call backward (all three gradients) ``reps`` times."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    size, cin, cout = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, cin)).astype(np.float32)
    w = (0.1 * rng.standard_normal((3, 3, cin, cout))).astype(np.float32)
    g = rng.standard_normal((batch, size, size, cout)).astype(np.float32)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC memory: a channels-last view
    wt = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
    gt = torch.from_numpy(g).permute(0, 3, 1, 2)
    bias = torch.zeros(cout)
    xk, wk, gk = tf.constant(x), tf.constant(w), tf.constant(g)
    one = [1, 1, 1, 1]

    def backward(mask: list[bool]) -> Callable[[], Any]:
        def run() -> None:
            for _ in range(reps):
                torch.ops.aten.convolution_backward(
                    gt, xt, wt, [cout], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask
                )

        return run

    def forward() -> None:
        for _ in range(reps):
            F.conv2d(xt, wt, bias, padding=1)

    def looped(body: Callable[[], Any]) -> Callable[[], Any]:
        @tf.function
        def run() -> Any:
            total = tf.constant(0.0)
            for _ in tf.range(reps):  # a graph loop: each iteration runs the kernel, none is folded away
                total += tf.reduce_sum(body())
            return total

        return run

    torch_pieces = {"forward": forward, "input grad": backward([True, False, False])}
    torch_pieces["weight grad"] = backward([False, True, False])
    tf_pieces = {
        "forward": looped(lambda: tf.nn.conv2d(xk, wk, 1, "SAME")),
        "input grad": looped(
            lambda: tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(xk), filter=wk, out_backprop=gk, strides=one, padding="SAME"
            )
        ),
        "weight grad": looped(
            lambda: tf.raw_ops.Conv2DBackpropFilter(
                input=xk, filter_sizes=tf.shape(wk), out_backprop=gk, strides=one, padding="SAME"
            )
        ),
    }
    return torch_pieces, tf_pieces, backward([True, True, True])


def alternate(a: Callable[[], Any], b: Callable[[], Any], turns: int, reps: int) -> tuple[float, float]:
    """Median ms per call of ``a`` and of ``b`` (each runs ``reps`` calls), alternating their order."""
    a(), b()  # first calls: tracing, oneDNN primitive caches
    times: tuple[list[float], list[float]] = ([], [])
    for turn in range(turns):
        for i in (0, 1) if turn % 2 == 0 else (1, 0):
            start = time.perf_counter()
            (a, b)[i]()
            times[i].append(1000 * (time.perf_counter() - start) / reps)
    return statistics.median(times[0]), statistics.median(times[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", nargs="+", type=_shape, default=list(SHAPES), metavar="SIZE,CIN,COUT")
    p.add_argument("--turns", type=int, default=11, help="alternating turns per piece (default 11)")
    p.add_argument("--reps", type=int, default=20, help="calls per turn (default 20)")
    args = p.parse_args(argv)
    for name in ("turns", "reps"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be a positive integer, received {getattr(args, name)}")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sepconv.compat import import_tensorflow

    tf = import_tensorflow()
    import torch

    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    print(f"CPU: {cpu_model()}; PyTorch {torch.__version__}, TensorFlow {tf.__version__}; batch 32")
    print(f"medians of {args.turns} alternating turns of {args.reps} calls, ms per call\n")
    print("| size, channels | piece | PyTorch | TensorFlow | ratio |")
    print("|---|---|---|---|---|")
    for shape in args.shapes:
        torch_pieces, tf_pieces, torch_all = pieces(tf, shape, args.reps)
        label = f"{shape[0]}x{shape[0]}, {shape[1]}->{shape[2]}"
        got: dict[str, tuple[float, float]] = {}
        for piece in PIECES:
            got[piece] = alternate(torch_pieces[piece], tf_pieces[piece], args.turns, args.reps)
            t_ms, k_ms = got[piece]
            print(f"| {label} | {piece} | {t_ms:.3f} | {k_ms:.3f} | {t_ms / k_ms:.2f} |")
        one_call, _ = alternate(torch_all, torch_pieces["forward"], args.turns, args.reps)
        t_ms = got["forward"][0] + one_call  # what autograd runs: the backward as one call
        k_ms = sum(k for _, k in got.values())
        row = f"| {label} | forward + backward (PyTorch's in one call) | {t_ms:.3f} | {k_ms:.3f} |"
        print(f"{row} {t_ms / k_ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
