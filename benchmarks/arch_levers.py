"""A/B of the speed levers of described networks (``sepconv_torch.arch``), interleaved in one process.

Each variant is the described network (``build_torch``, seed 0, channels-last, ``retain_freed_memory()``)
with some levers switched; the variants take turns, a block of training steps (batch 32, SGD) and one
inference pass over 256 images (chunks of 64, as ``SepConvLitModule`` evaluates) each per turn, so that
machine noise hits them alike. Prints each variant's median step and inference time and its ratio to
the first variant.

    python benchmarks/arch_levers.py --architecture mobilenet_v1_025_32 --variants all-off default
    python benchmarks/arch_levers.py --architecture standard --variants default split-backward --threads 1

Variants (levers: docs/performance.md, "Described networks"):

* ``default``: the network as built (BatchNorm's closed-form backward, ReLU6 as ``F.relu6``, a layer's
  own ``selu`` in place on its output, PyTorch's own convolution backward);
* ``split-backward``: every convolution with ``sepconv_torch.conv``'s separate-call backward;
* ``autograd-bn``: BatchNorm in training mode as TensorFlow computes it, differentiated by autograd
  (``training_kernel = "autograd"``);
* ``closed-form-bn``: the same forward with the backward in closed form (``"closed-form"``);
* ``relu-clamp``: ``ReLU(max_value=6)`` as ``relu`` then ``clamp``, two kernels (and a gradient of 1 at 6);
* ``all-off``: ``autograd-bn``, ``relu-clamp`` and ``literal-order`` together (the network before these
  levers);
* ``selu-copy``: a layer's own ``selu`` on a copy of the layer's output (``SELU(inplace=False)``);
* ``selu-whole-exp2``: SELU over the whole tensor at once with ``exp2(x * log2(e))``, as on AMD and
  before the slicing (``sepconv_torch.selu``; process-wide, so give it its own run);
* ``literal-order``: every activation before the max pool after it, as the description lists them
  (``forward`` moves a monotone one past the pool: ``sepconv_torch.arch.net.forward_order``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from typing import Any

VARIANTS = (
    "default",
    "split-backward",
    "autograd-bn",
    "closed-form-bn",
    "relu-clamp",
    "all-off",
    "selu-copy",
    "literal-order",
    "selu-whole-exp2",
)


def _relu_clamp(self: Any, x: Any) -> Any:
    import torch.nn.functional as F

    return F.relu(x).clamp(0.0, 6.0)


def build(architecture: str, variant: str) -> Any:
    """The described network, channels-last, with ``variant``'s levers."""
    import torch

    from sepconv.described import read_architecture
    from sepconv_torch.arch import build_torch
    from sepconv_torch.arch import modules as M
    from sepconv_torch.selu import SELU

    net = build_torch(read_architecture(architecture, "--architecture"), seed=0)
    if variant == "selu-whole-exp2":
        from sepconv_torch import selu

        selu.BLOCK = 1 << 62
        selu._cpu_prefers_exp2 = lambda: True
    if variant in ("literal-order", "all-off"):  # every activation before its max pool
        net.order = tuple(
            (ident, is_act)
            for ident, _ in net.names
            for is_act in (False, True)
            if not is_act or ident in net.activations
        )
    if variant == "selu-copy":
        for ident, activation in net.activations.items():
            if isinstance(activation, SELU):
                net.activations[ident] = SELU(inplace=False)
    for module in net.modules():
        if isinstance(module, M.KerasConv2d):
            module.split_backward = variant == "split-backward"
        if isinstance(module, M.KerasBatchNorm) and variant in ("autograd-bn", "all-off"):
            module.training_kernel = "autograd"
        if isinstance(module, M.KerasBatchNorm) and variant == "closed-form-bn":
            module.training_kernel = "closed-form"
        relu6 = isinstance(module, M.KerasReLU) and (module.max_value, module.negative_slope) == (6, 0)
        if relu6 and module.threshold == 0 and variant in ("relu-clamp", "all-off"):
            module.forward = types.MethodType(_relu_clamp, module)
    return net.to(memory_format=torch.channels_last)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architecture", default="mobilenet_v1_025_32", metavar="NAME|FILE")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=["all-off", "default"])
    p.add_argument("--turns", type=int, default=16, help="turns per variant (default 16)")
    p.add_argument("--steps", type=int, default=6, help="training steps per turn (default 6)")
    p.add_argument("--threads", type=int, help="PyTorch CPU threads (default: PyTorch's own count)")
    args = p.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from sepconv.described import read_architecture
    from sepconv_torch.host_memory import retain_freed_memory

    if args.threads:
        torch.set_num_threads(args.threads)
    retain_freed_memory()
    h, w, c = read_architecture(args.architecture, "--architecture").input_shape
    torch.manual_seed(0)
    images = torch.randn(64 * 32, c, h, w).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (64 * 32,))
    batch = torch.randn(256, c, h, w).contiguous(memory_format=torch.channels_last)
    nets = {v: build(args.architecture, v) for v in args.variants}
    optimizers = {v: torch.optim.SGD(net.parameters(), lr=0.01) for v, net in nets.items()}
    steps: dict[str, list[float]] = {v: [] for v in args.variants}
    infer: dict[str, list[float]] = {v: [] for v in args.variants}
    i = 0
    for _ in range(args.turns):
        for v, net in nets.items():
            net.train()
            for _ in range(args.steps):
                b = i % 64
                i += 1
                x, y = images[b * 32 : (b + 1) * 32], labels[b * 32 : (b + 1) * 32]
                start = time.perf_counter()
                loss = F.cross_entropy(net(x), y)
                optimizers[v].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[v].step()
                steps[v].append(time.perf_counter() - start)
            net.eval()
            with torch.inference_mode():
                start = time.perf_counter()
                torch.cat([net(part) for part in batch.split(64)])
                infer[v].append(time.perf_counter() - start)
    first = args.variants[0]

    def med(times: list[float], skip: int = 0) -> float:
        return 1000 * statistics.median(times[skip:])

    print(
        f"network {args.architecture}; threads {torch.get_num_threads()}; "
        f"{args.turns} turns of {args.steps} steps"
    )
    print("| variant | ms per step | ratio | inference ms / 256 | ratio |")
    print("|---|---|---|---|---|")
    for v in args.variants:
        s, r = med(steps[v], args.steps), med(infer[v])
        cells = [
            v,
            f"{s:.2f}",
            f"{s / med(steps[first], args.steps):.3f}",
            f"{r:.1f}",
            f"{r / med(infer[first]):.3f}",
        ]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
