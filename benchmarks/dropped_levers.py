"""Levers and costs README "Performance" reports (most tried and dropped), as they were measured.

python benchmarks/dropped_levers.py selu        # F.selu against our SELU, default and precise
python benchmarks/dropped_levers.py compile     # the plain loop eager against torch.compile of the network
python benchmarks/dropped_levers.py pointwise   # 1x1 Conv2d against a matmul on the NHWC view (fwd + bwd)
python benchmarks/dropped_levers.py loop        # a plain training loop; run under `/usr/bin/time -v` and
                                                # with MALLOC_MMAP_THRESHOLD_ etc. to count page faults
python benchmarks/dropped_levers.py loop-retained # the same with glibc keeping freed memory, as training
                                                # does; GLIBC_TUNABLES=glibc.malloc.hugetlb=1 in front
                                                # puts malloc's memory on transparent huge pages
python benchmarks/dropped_levers.py batches     # cost per sample at batch 32, 64, 128, and 128 as 2 x 64
python benchmarks/dropped_levers.py threads     # 2 intra-op threads against 1, and against the batch split
                                                # over 2 Python threads of 1 intra-op thread each
python benchmarks/dropped_levers.py layers      # forward + backward of each kind of layer, one at a time
python benchmarks/dropped_levers.py eval-chunks # a 500-image evaluation batch whole and in chunks (kept: 64)
python benchmarks/dropped_levers.py peak        # float32 matmul GFLOP/s at 1 and 2 threads (the ceiling)
python benchmarks/dropped_levers.py exp         # float32 exp, exp2 and expm1 kernels (kept: exp2 for SELU's
                                                # exp where vectorised); ATEN_CPU_CAPABILITY=avx2 / default
                                                # show the other builds; and SELU's error with each
python benchmarks/dropped_levers.py muon        # MuonSGD's step against SGD's: per matrix, per optimizer
                                                # step, and whole plain-loop steps at batch 32 and 128
python benchmarks/dropped_levers.py standardise # the data's statistics and standardisation, cold, each in a
                                                # fresh process: float64 passes against the histogram and
                                                # the lookup table (kept), the histogram in one bincount
                                                # call against chunks of 2**18 pixels (kept)
python benchmarks/dropped_levers.py conv-backward # oneDNN's convolution backward (input, weight and bias
                                                # gradients in one call) against three calls: the input
                                                # gradient as a forward convolution, the weight gradient
                                                # alone, the bias gradient as a sum; per layer, then in
                                                # whole plain-loop steps at batch 32 and 128
python benchmarks/dropped_levers.py flatten-grad # the max-pool backward with the gradient contiguous (as
                                                # nn.Flatten's backward hands it back) against channels-last
                                                # like its input; then plain-loop steps with nn.Flatten
                                                # against sepconv_torch.flatten.Flatten (kept)
python benchmarks/dropped_levers.py step-levers # plain SGD steps of the `reference` description's network,
                                                # each lever alternating with the current code in one
                                                # process: SELU's constants as float32 0-d tensors, flushed
                                                # denormals, SGD(foreach=True); then SELU as one compiled
                                                # kernel (torch.compile) against sepconv_torch.selu
python benchmarks/dropped_levers.py backward-levers # plain SGD steps of the `reference` description's
                                                # network, alternating in one process: each convolution's
                                                # weight gradient on a second thread while this one takes
                                                # the input gradient (one intra-op thread each), and the
                                                # weight and bias gradients in one oneDNN call; then SELU
                                                # as one ATen kernel (F.selu's expm1) against ours
python benchmarks/dropped_levers.py metric-updates # one training step's metric updates (kept: BatchMean)
                                                # against torchmetrics' MeanMetric and MulticlassAccuracy,
                                                # and Lightning's hook-name assignment through
                                                # nn.Module.__setattr__ against SepConvLitModule's (kept)
python benchmarks/dropped_levers.py sgd-fused # SGD's step over the `reference` and `standard` descriptions'
                                                # parameters: the default (for-loop), foreach and fused
                                                # (one kernel per tensor) implementations, alternating,
                                                # and whether they give the same weights bit for bit
python benchmarks/dropped_levers.py profiler-shapes # plain SGD steps of the `standard` description's
                                                # network, each SELU backward timed by a perf_counter pair:
                                                # alone, under torch.profiler with record_shapes=True and
                                                # with False, alternating (why step_time.py --profile
                                                # leaves shapes out)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F


def median_ms(f: Callable[[], object], n: int = 60) -> float:
    for _ in range(5):
        f()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def selu() -> None:
    from sepconv_torch.host_memory import retain_freed_memory
    from sepconv_torch.selu import SELU

    retain_freed_memory()  # as in training: otherwise every call also faults in fresh pages
    x = torch.randn(32, 32, 28, 28).contiguous(memory_format=torch.channels_last) * 0.5
    variants = (("F.selu", F.selu), ("SELU()", SELU()), ("SELU(precise=True)", SELU(precise=True)))
    for name, f in variants:
        small = torch.randn(100_000) * 1e-3  # this network's activation scale at initialisation
        exact = F.selu(small.double())
        error = ((f(small).double() - exact).abs() / exact.abs().clamp_min(1e-30)).max().item()
        print(f"{name:18s} {median_ms(lambda f=f: f(x)):.3f} ms per call, max relative error {error:.1e}")


def pointwise() -> None:
    for size, cin, cout in ((28, 32, 32), (14, 32, 64), (14, 64, 64), (7, 64, 128), (7, 128, 128)):
        conv = torch.nn.Conv2d(cin, cout, 1).to(memory_format=torch.channels_last)
        x = torch.randn(32, cin, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()

        def as_conv(conv: torch.nn.Conv2d = conv, x: torch.Tensor = x) -> None:
            conv(x).sum().backward()

        def as_matmul(conv: torch.nn.Conv2d = conv, x: torch.Tensor = x) -> None:
            weight = conv.weight.reshape(conv.out_channels, conv.in_channels)
            F.linear(x.permute(0, 2, 3, 1), weight, conv.bias).sum().backward()

        conv_ms, matmul_ms = median_ms(as_conv), median_ms(as_matmul)
        print(f"{size}x{size} {cin}->{cout}: conv {conv_ms:.3f} ms, matmul {matmul_ms:.3f} ms")


def _plain_step(
    net: torch.nn.Module, batch: int, chunk: int, optimizer: torch.optim.Optimizer | None = None
) -> Callable[[], None]:
    """One step (SGD unless given) on ``batch`` images, forward and backward over chunks of ``chunk``."""
    optimizer = optimizer or torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        for xc, yc in zip(x.split(chunk), y.split(chunk), strict=True):
            (F.cross_entropy(net(xc), yc, reduction="sum") / batch).backward()
        optimizer.step()

    return step


def _interleaved_plain_steps(nets: dict[str, torch.nn.Module], rounds: int = 5) -> None:
    """Print the median plain-loop step of each network at batch 32 and 128, over interleaved rounds."""
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for batch in (32, 128):
            for name, net in nets.items():
                step = _plain_step(net, batch, batch)
                times.setdefault((name, batch), []).append(median_ms(step, n=60 if batch == 32 else 20))
    for (name, batch), ms in times.items():
        print(
            f"plain step, batch {batch}, {name}: {statistics.median(ms):.2f} ms (rounds: "
            + ", ".join(f"{m:.2f}" for m in ms)
            + ")"
        )


def loop(retained: bool = False) -> None:
    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory

    if retained:
        retain_freed_memory()
    net = build_model(seed=0).to(memory_format=torch.channels_last)
    for batch in (32, 128):
        print(f"batch {batch}: {median_ms(_plain_step(net, batch, batch), n=30):.1f} ms per step")


def batches() -> None:
    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    net = build_model(seed=0).to(memory_format=torch.channels_last)
    cases = ((32, 32), (64, 64), (128, 128), (128, 64))
    times: dict[tuple[int, int], list[float]] = {case: [] for case in cases}
    for _ in range(3):  # interleaved rounds
        for case in cases:
            times[case].append(median_ms(_plain_step(net, *case), n=40))
    for (batch, chunk), ms in times.items():
        ms_step = statistics.median(ms)
        how = f"batch {batch}" + (f" as {batch // chunk} chunks of {chunk}" if chunk != batch else "")
        print(f"{how}: {ms_step:.2f} ms per step, {1000 * ms_step / batch:.0f} us per sample")


def muon() -> None:
    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory
    from sepconv_torch.optim import MuonSGD, newton_schulz, split_parameters

    retain_freed_memory()
    net = build_model(seed=0).to(memory_format=torch.channels_last)
    matrices, others = split_parameters(net)
    for p in matrices:
        matrix = torch.randn(len(p), p[0].numel())
        print(f"newton_schulz {tuple(matrix.shape)}: {median_ms(lambda m=matrix: newton_schulz(m)):.3f} ms")

    def optimizers() -> dict[str, torch.optim.Optimizer]:  # the fast recipe's settings
        sgd = torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.9, nesterov=True)
        return {"SGD": sgd, "MuonSGD": MuonSGD(matrices, others, lr=0.2, momentum=0.9, nesterov=True)}

    for p in net.parameters():
        p.grad = torch.randn_like(p)
    for name, optimizer in optimizers().items():
        print(f"{name}.step(): {median_ms(optimizer.step):.3f} ms")
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(3):  # interleaved rounds
        for batch in (32, 128):
            for name, optimizer in optimizers().items():
                step = _plain_step(net, batch, batch, optimizer)
                times.setdefault((name, batch), []).append(median_ms(step, n=40))
    for (name, batch), ms in times.items():
        print(f"plain step, batch {batch}, {name}: {statistics.median(ms):.2f} ms")


def threads_variant(variant: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    net = build_model(seed=0).to(memory_format=torch.channels_last)
    params = list(net.parameters())
    pool = ThreadPoolExecutor(2)

    class HalvesInThreads(torch.autograd.Function):
        """Forward and backward of each half of the batch in its own thread; parameter gradients summed."""

        @staticmethod
        def forward(
            ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, *weights: torch.Tensor
        ) -> torch.Tensor:
            def half(part: torch.Tensor) -> torch.Tensor:
                with torch.enable_grad():
                    return net(part)

            ctx.outs = list(pool.map(half, x.chunk(2)))
            return torch.cat([out.detach() for out in ctx.outs])

        @staticmethod
        def backward(
            ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
        ) -> tuple[torch.Tensor | None, ...]:
            grads = grad.split([len(out) for out in ctx.outs])
            parts = list(
                pool.map(lambda a: torch.autograd.grad(a[0], params, a[1]), zip(ctx.outs, grads, strict=True))
            )
            return (None, *[a + b for a, b in zip(*parts, strict=True)])

    optimizer = torch.optim.SGD(params, lr=0.01)
    x = torch.randn(32, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,))

    def step(split: bool) -> None:
        logits = HalvesInThreads.apply(x, *params) if split else net(x)
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(logits, y).backward()
        optimizer.step()

    n, split = THREAD_VARIANTS[variant]
    torch.set_num_threads(n)
    print(median_ms(lambda: step(split), n=60))


#: name -> (intra-op threads, batch split over two Python threads)
THREAD_VARIANTS = {
    "2 intra-op threads": (2, False),
    "1 intra-op thread": (1, False),
    "2 threads x half batch": (1, True),
}


def threads() -> None:
    """Each variant in its own process (OpenMP thread pools outlive a variant), 3 interleaved rounds."""
    import subprocess

    times: dict[str, list[float]] = {name: [] for name in THREAD_VARIANTS}
    for _ in range(3):
        for name in THREAD_VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, "threads-variant", name],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            times[name].append(float(out.split()[-1]))
    for name, ms in times.items():
        print(f"{name}: {statistics.median(ms):.2f} ms per step (batch 32)")


def layers() -> None:
    from sepconv_torch.host_memory import retain_freed_memory
    from sepconv_torch.selu import SELU

    retain_freed_memory()

    def nhwc(*shape: int) -> torch.Tensor:
        return torch.randn(*shape).contiguous(memory_format=torch.channels_last)

    def fwd_bwd(layer: torch.nn.Module, x: torch.Tensor, input_grad: bool = True) -> Callable[[], None]:
        x = x.requires_grad_(input_grad)
        return lambda: layer(x).sum().backward()

    total: dict[str, float] = {}
    for size, cin, cout in ((28, 32, 32), (14, 32, 64), (14, 64, 64), (7, 64, 128), (7, 128, 128)):
        x = nhwc(32, cin, size, size)
        pointwise = torch.nn.Conv2d(cin, cout, 1).to(memory_format=torch.channels_last)
        depthwise = torch.nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        for name, layer in (
            ("1x1", pointwise),
            ("depthwise 3x3", depthwise.to(memory_format=torch.channels_last)),
        ):
            ms = median_ms(fwd_bwd(layer, x.detach().clone()))
            total[name] = total.get(name, 0.0) + ms
            print(f"{name} {cin}->{cout if name == '1x1' else cin} at {size}x{size}: {ms:.3f} ms")
    conv1 = torch.nn.Conv2d(1, 32, 3, padding=1).to(memory_format=torch.channels_last)
    conv1_ms = median_ms(fwd_bwd(conv1, nhwc(32, 1, 28, 28), input_grad=False))
    print(f"conv1 1->32 at 28x28: {conv1_ms:.3f} ms (no input gradient)")
    selu, x = SELU(inplace=True), nhwc(32, 32, 28, 28)
    copy = median_ms(lambda: x.clone().requires_grad_().mul(1))
    selu_ms = median_ms(lambda: selu(x.clone().requires_grad_().mul(1)).sum().backward()) - copy
    print(f"SELU at 32x28x28: {selu_ms:.3f} ms (the input's copy subtracted)")
    print(
        ", ".join(f"all {name}: {ms:.2f} ms" for name, ms in total.items()), "(forward + backward, batch 32)"
    )


def eval_chunks() -> None:
    from sepconv_torch import SepConvLitModule
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    x = torch.randn(500, 1, 28, 28)
    modules = {chunk: SepConvLitModule(eval_chunk_size=chunk).eval() for chunk in (0, 32, 64, 128)}
    times: dict[int, list[float]] = {chunk: [] for chunk in modules}
    with torch.inference_mode():
        for _ in range(3):
            for chunk, module in modules.items():
                times[chunk].append(median_ms(lambda module=module: module(x), n=20))
    for chunk, ms in times.items():
        how = "whole batch" if chunk == 0 else f"chunks of {chunk}"
        print(f"{how}: {statistics.median(ms):.1f} ms per 500 images")


def standardise_variant(variant: str) -> None:
    """One cold pass (a fresh process, as at start-up): statistics and the 55,000 training images."""
    import numpy as np

    from sepconv.data import splits
    from sepconv.data.splits import NUM_VAL, load_raw, pixel_mean_std

    raw, _ = load_raw(download=False)
    u8 = raw["train_images"][NUM_VAL:]
    start = time.perf_counter()
    if variant == "float64":
        mean, std = u8.mean(dtype=np.float64), u8.std(dtype=np.float64)
        ((u8.astype(np.float64) - mean) / std).astype(np.float32)
    else:
        if variant == "table-whole-bincount":  # the histogram in one np.bincount call (int64 copy: 345 MB)
            splits._COUNT_CHUNK = u8.size
        mean, std = pixel_mean_std(u8)
        ((np.arange(256, dtype=np.float64) - mean) / std).astype(np.float32)[u8]
    print(1000 * (time.perf_counter() - start))


def standardise(rounds: int = 7) -> None:
    """Start-up cost of the shared data, the float64 passes against the histogram and table (kept)."""
    import subprocess

    times: dict[str, list[float]] = {"float64": [], "table-whole-bincount": [], "table": []}
    for _ in range(rounds):
        for variant, found in times.items():
            command = [sys.executable, __file__, "standardise-variant", variant]
            found.append(float(subprocess.run(command, capture_output=True, text=True, check=True).stdout))
    for variant, found in times.items():
        print(
            f"{variant:20s} median {statistics.median(found):.0f} ms of {rounds} fresh processes: "
            + ", ".join(f"{t:.0f}" for t in found)
        )


def peak() -> None:
    """What the CPU does at best: float32 GEMM at 1 and 2 intra-op threads (the step is 24.4 MFLOP/sample)."""
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for n in (1024, 2048):
            a, b = torch.randn(n, n), torch.randn(n, n)
            ms = median_ms(lambda a=a, b=b: a @ b, n=10)
            print(f"{threads} thread(s), {n}x{n} matmul: {2 * n**3 / ms / 1e6:.0f} GFLOP/s")


def exp_kernels() -> None:
    """The three exponentials SELU could use, on one 32x32x28x28 activation's worth of values <= 0."""
    x = torch.randn(32, 32, 28, 28).clamp(max=0.0)
    out = torch.empty_like(x)
    print(f"CPU capability {torch.backends.cpu.get_cpu_capability()}, {x.numel():,} float32 values <= 0")
    for name, f in (("exp", torch.exp), ("exp2", torch.exp2), ("expm1", torch.expm1)):
        print(f"{name:6s} {median_ms(lambda f=f: f(x, out=out), n=200):.3f} ms")
    from sepconv_torch import selu

    torch.manual_seed(0)
    grid = torch.cat(
        [-torch.logspace(-10, 1.6, 2_000_000, dtype=torch.float64).float(), -torch.rand(2_000_000) * 20]
    )
    exact = F.selu(grid.double())
    for name, use_exp2 in (("exp", False), ("exp2", True)):
        selu._cpu_prefers_exp2 = lambda use_exp2=use_exp2: use_exp2
        error = (selu.selu_(grid.clone()).double() - exact).abs().max().item()
        print(f"SELU with {name}: largest absolute error {error:.2e} on {len(grid):,} points in [-40, 0]")


def compile_net() -> None:
    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    for name in ("eager", "torch.compile"):
        net = build_model(seed=0).to(memory_format=torch.channels_last)
        step = _plain_step(torch.compile(net) if name == "torch.compile" else net, 32, 32)
        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        print(f"{name}: first step {first:.1f} s, then {median_ms(step, n=40):.2f} ms per step")


def conv_backward() -> None:
    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    backward = torch.ops.aten.convolution_backward

    def nhwc(*shape: int) -> torch.Tensor:
        return torch.randn(*shape).contiguous(memory_format=torch.channels_last)

    print("one layer at a time (its tensors hot in cache), ms: one call | three calls")
    for batch in (32, 128):
        for size, cin, cout, groups in ((28, 32, 32, 32), (28, 32, 32, 1), (14, 64, 64, 1), (7, 128, 128, 1)):
            x, grad = nhwc(batch, cin, size, size), nhwc(batch, cout, size, size)
            k = 3 if groups > 1 else 1
            w = torch.randn(cout, cin // groups, k, k)
            bias, mask = ([cout], [True, True, True]) if groups == 1 else (None, [True, True, False])
            p, flipped = k // 2, (w if groups > 1 else w.transpose(0, 1)).flip(2, 3)

            def one(x=x, grad=grad, w=w, bias=bias, mask=mask, p=p, groups=groups) -> object:
                return backward(grad, x, w, bias, [1, 1], [p, p], [1, 1], False, [0, 0], groups, mask)

            def three(x=x, grad=grad, w=w, p=p, groups=groups, flipped=flipped) -> object:
                F.conv2d(grad, flipped, padding=p, groups=groups)
                only_weight = [False, True, False]
                backward(grad, x, w, None, [1, 1], [p, p], [1, 1], False, [0, 0], groups, only_weight)
                return grad.sum((0, 2, 3)) if groups == 1 else None

            kind = "depthwise 3x3" if groups > 1 else "1x1"
            one_ms, three_ms = median_ms(one), median_ms(three)
            print(f"batch {batch}, {kind} {cin}->{cout} at {size}x{size}: {one_ms:.3f} | {three_ms:.3f}")

    nets = {
        "one call": build_model(seed=0, split_conv_backward=False).to(memory_format=torch.channels_last),
        "three calls": build_model(seed=0).to(memory_format=torch.channels_last),  # sepconv_torch.conv
    }
    x, y = nhwc(32, 1, 28, 28).double(), torch.randint(0, 10, (32,))
    grads = {}
    for name, net in nets.items():
        net.double().zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        grads[name] = [p.grad.clone() for p in net.parameters()]
        net.float()
    diff = max((a - b).abs().max().item() for a, b in zip(*grads.values(), strict=True))
    print(f"float64 gradients, one call against three: max |difference| {diff:.1e}")
    _interleaved_plain_steps(nets)


def flatten_grad() -> None:
    from torch import nn

    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    pool_backward = torch.ops.aten.max_pool2d_with_indices_backward
    print("max-pool 2x2 backward, input channels-last, ms: gradient contiguous | gradient channels-last")
    for batch in (32, 128):
        for channels, size in ((32, 28), (64, 14), (128, 7)):
            x = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last)
            out, indices = torch.ops.aten.max_pool2d_with_indices(x, [2, 2], [2, 2])
            grad = torch.randn(out.shape)
            grads = (grad, grad.contiguous(memory_format=torch.channels_last))
            ms = [
                median_ms(
                    lambda g=g, x=x, i=indices: pool_backward(g, x, [2, 2], [2, 2], [0, 0], [1, 1], False, i)
                )
                for g in grads
            ]
            print(f"batch {batch}, {channels} channels at {size}x{size}: {ms[0]:.3f} | {ms[1]:.3f}")
    nets = {"nn.Flatten": build_model(seed=0), "Flatten (kept)": build_model(seed=0)}
    nets["nn.Flatten"].flatten = nn.Flatten()
    _interleaved_plain_steps({name: net.to(memory_format=torch.channels_last) for name, net in nets.items()})


def _alternate(steps: dict[str, Callable[[], None]], setup: Callable[[str], None], turns: int = 14) -> None:
    """Alternate ``steps`` (order swapped each turn, 40 timed steps after 5), ``setup(name)`` before each."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for turn in range(turns):
        for name in list(steps) if turn % 2 == 0 else list(steps)[::-1]:
            setup(name)
            times[name].append(median_ms(steps[name], n=40))
    (a, b), ms = list(steps), {name: statistics.median(t) for name, t in times.items()}
    per_turn = statistics.median(y / x for x, y in zip(times[a], times[b], strict=True))
    print(f"{a} {ms[a]:.2f} ms, {b} {ms[b]:.2f} ms: {ms[b] / ms[a]:.3f} (per turn {per_turn:.3f})")


def step_levers() -> None:
    import copy

    from sepconv.described import read_architecture
    from sepconv_torch import selu as selu_module
    from sepconv_torch.arch import build_torch
    from sepconv_torch.host_memory import retain_freed_memory

    retain_freed_memory()
    net = build_torch(read_architecture("reference"), seed=0).to(memory_format=torch.channels_last)
    current = selu_module._selu_float32_
    scale, one = torch.tensor(selu_module.SCALE), torch.tensor(1.0)

    def tensor_constants(x: torch.Tensor) -> torch.Tensor:
        neg = torch.clamp(x, max=0.0)
        scaled = selu_module._exp_(neg).sub_(one)
        return x.clamp_(min=0.0).mul_(scale).add_(scaled, alpha=selu_module.SCALE * selu_module.ALPHA)

    probe = torch.randn(1 << 20) * 5
    same = torch.equal(current(probe.clone()), tensor_constants(probe.clone()))
    print(f"SELU constants as float32 tensors, the same values bit for bit: {same}")
    step = _plain_step(net, 32, 32)
    _alternate(
        {"python-float constants": step, "float32 tensor constants": step},
        lambda name: setattr(
            selu_module, "_selu_float32_", current if name.startswith("python") else tensor_constants
        ),
    )
    selu_module._selu_float32_ = current
    _alternate(
        {"denormals kept": step, "denormals flushed": step},
        lambda name: torch.set_flush_denormal(name.endswith("flushed")),
    )
    torch.set_flush_denormal(False)
    probes = [copy.deepcopy(net) for _ in range(2)]
    for probe_net, foreach in zip(probes, (False, True), strict=True):
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(32, 1, 28, 28, generator=generator).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (32,), generator=generator)
        optimizer = torch.optim.SGD(probe_net.parameters(), lr=0.01, foreach=foreach)
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(probe_net(x), y).backward()
            optimizer.step()
    equal = all(torch.equal(a, b) for a, b in zip(*(p.parameters() for p in probes), strict=True))
    print(f"SGD foreach, the same weights bit for bit after 3 steps: {equal}")
    twin = copy.deepcopy(net)
    _alternate(
        {
            "SGD for-loop": _plain_step(
                net, 32, 32, torch.optim.SGD(net.parameters(), lr=0.01, foreach=False)
            ),
            "SGD foreach": _plain_step(
                twin, 32, 32, torch.optim.SGD(twin.parameters(), lr=0.01, foreach=True)
            ),
        },
        lambda name: None,
    )

    @torch.compile(dynamic=True, fullgraph=True)
    def fused(x: torch.Tensor) -> torch.Tensor:
        negative = (torch.exp(torch.clamp(x, max=0.0)) - 1.0) * (selu_module.SCALE * selu_module.ALPHA)
        return torch.where(x > 0, x * selu_module.SCALE, negative)

    for shape in ((32, 32, 28, 28), (32, 64, 14, 14)):
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last) * 3
        start = time.perf_counter()
        out = fused(x)
        first = time.perf_counter() - start
        work = x.clone()
        ours = median_ms(lambda w=work, x=x: selu_module.selu_(w.copy_(x))) - median_ms(
            lambda w=work, x=x: w.copy_(x)
        )
        error = (out - selu_module.selu_(x.clone())).abs().max().item()
        print(
            f"SELU {shape}: compiled {median_ms(lambda x=x: fused(x)):.3f} ms (first call {first:.1f} s), "
            f"sepconv_torch.selu {ours:.3f} ms, largest difference {error:.1e}"
        )


def backward_levers() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sepconv.described import read_architecture
    from sepconv_torch import conv
    from sepconv_torch.arch import build_torch
    from sepconv_torch.host_memory import retain_freed_memory
    from sepconv_torch.selu import selu_

    retain_freed_memory()
    net = build_torch(read_architecture("reference"), seed=0).to(memory_format=torch.channels_last)
    current, threads = conv._SplitBackwardConv.backward, torch.get_num_threads()
    worker = ThreadPoolExecutor(1, initializer=lambda: torch.set_num_threads(1))

    def concurrent(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        needs = ctx.needs_input_grad  # type: ignore[attr-defined]
        if not (needs[0] and needs[1]):
            return current(ctx, grad)
        x, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        stride, padding, groups = list(ctx.stride), list(ctx.padding), ctx.groups  # type: ignore[attr-defined]
        pending = worker.submit(conv._onednn_backward, grad, x, weight, stride, padding, groups, 1)
        torch.set_num_threads(1)
        try:
            grad_x = conv._input_grad(grad, x, weight, stride, padding, groups)
            grad_bias = grad.sum((0, 2, 3)) if ctx.has_bias and needs[2] else None  # type: ignore[attr-defined]
            return grad_x, pending.result(), grad_bias, None, None, None
        finally:
            torch.set_num_threads(threads)

    def bias_in_one_call(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        needs = ctx.needs_input_grad  # type: ignore[attr-defined]
        if not (ctx.has_bias and needs[1] and needs[2] and ctx.groups == 1):  # type: ignore[attr-defined]
            return current(ctx, grad)
        x, weight = ctx.saved_tensors  # type: ignore[attr-defined]
        stride, padding = list(ctx.stride), list(ctx.padding)  # type: ignore[attr-defined]
        _, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[0]], stride, padding, [1, 1], False, [0, 0], 1, [False, True, True]
        )
        grad_x = conv._input_grad(grad, x, weight, stride, padding, 1) if needs[0] else None
        return grad_x, grad_weight, grad_bias, None, None, None

    step = _plain_step(net, 32, 32)
    for name, variant in (
        ("weight gradient on a second thread", concurrent),
        ("bias in one call", bias_in_one_call),
    ):
        _alternate(
            {"current backward": step, name: step},
            lambda which, variant=variant: setattr(
                conv._SplitBackwardConv,
                "backward",
                staticmethod(current if which.startswith("current") else variant),
            ),
        )
    conv._SplitBackwardConv.backward = current
    worker.shutdown()
    for shape in ((32, 32, 28, 28), (32, 64, 14, 14), (32, 128, 7, 7)):
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last) * 3
        work = x.clone()
        copy = median_ms(lambda w=work, x=x: w.copy_(x))
        ours = median_ms(lambda w=work, x=x: selu_(w.copy_(x))) - copy
        one_kernel = median_ms(lambda w=work, x=x: F.selu(w.copy_(x), inplace=True)) - copy
        error = (F.selu(x) - selu_(x.clone())).abs().max().item()
        print(
            f"SELU {shape}: sepconv_torch.selu {ours:.3f} ms, F.selu (one kernel) {one_kernel:.3f} ms, "
            f"largest difference {error:.1e}"
        )


def metric_updates() -> None:
    from torch import nn
    from torchmetrics import MeanMetric
    from torchmetrics.classification import MulticlassAccuracy

    from sepconv_torch import SepConvLitModule
    from sepconv_torch.metrics import BatchMean

    logits, labels, loss = torch.randn(32, 10), torch.randint(0, 10, (32,)), torch.tensor(0.5)
    mean, accuracy = MeanMetric(), MulticlassAccuracy(10, average="micro", validate_args=False)
    ours_loss, ours_accuracy = BatchMean(), BatchMean(torch.int64)
    rows = {
        "loss, MeanMetric": lambda: mean.update(loss, weight=32),
        "loss, BatchMean (kept)": lambda: ours_loss.update(loss * 32, 32),
        "accuracy, MulticlassAccuracy": lambda: accuracy.update(logits, labels),
        "accuracy, BatchMean (kept)": lambda: ours_accuracy.update(
            (logits.argmax(dim=-1) == labels).sum(), 32
        ),
    }
    module = SepConvLitModule(net=nn.Linear(784, 10), channels_last=False)
    rows["_current_fx_name, nn.Module.__setattr__"] = lambda: nn.Module.__setattr__(
        module, "_current_fx_name", "x"
    )
    rows["_current_fx_name, SepConvLitModule (kept)"] = lambda: setattr(module, "_current_fx_name", "x")
    for name, f in rows.items():
        median = statistics.median(
            1000 * median_ms(lambda f=f: [f() for _ in range(100)], n=30) / 100 for _ in range(3)
        )
        print(f"{name}: {median:.1f} us per call")


def sgd_fused(turns: int = 15, calls: int = 50) -> None:
    from sepconv.described import read_architecture
    from sepconv_torch.arch import build_torch

    kinds = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    for name in ("reference", "standard"):
        params = list(build_torch(read_architecture(name), seed=0).parameters())
        generator = torch.Generator().manual_seed(0)
        grads = [torch.randn(p.shape, generator=generator) for p in params]
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        optimizers = {kind: torch.optim.SGD(params, lr=0.01, **kw) for kind, kw in kinds.items()}
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for turn in range(turns):
            for kind in list(kinds) if turn % 2 == 0 else list(kinds)[::-1]:
                start = time.perf_counter()
                for _ in range(calls):
                    optimizers[kind].step()
                times[kind].append(1e6 * (time.perf_counter() - start) / calls)
        cells = ", ".join(f"{kind} {statistics.median(t):.1f}" for kind, t in times.items())
        print(f"{name} ({sum(p.numel() for p in params):,} parameters): us per SGD step, {cells}")
        for momentum in (0.0, 0.9):
            weights = {kind: [p.detach().clone() for p in params] for kind in kinds}
            for kind, copies in weights.items():
                for w, g in zip(copies, grads, strict=True):
                    w.grad = g.clone()
                optimizer = torch.optim.SGD(
                    copies, lr=0.01, momentum=momentum, weight_decay=1e-4, **kinds[kind]
                )
                for _ in range(3):
                    optimizer.step()
            same = all(
                all(torch.equal(a, b) for a, b in zip(weights["default"], copies, strict=True))
                for copies in weights.values()
            )
            print(f"  momentum {momentum}, weight decay 1e-4, 3 steps: the same weights bit for bit: {same}")


def profiler_shapes(turns: int = 3, steps: int = 60) -> None:
    import step_time
    from torch.profiler import profile

    import sepconv_torch.selu as selu_module

    spent: dict[tuple[int, ...], list[float]] = {}
    backward = selu_module._SELUInPlace.backward

    def timed(ctx: object, grad: torch.Tensor) -> object:
        start = time.perf_counter()
        out = backward(ctx, grad)
        spent.setdefault(tuple(grad.shape), []).append(1000 * (time.perf_counter() - start))
        return out

    selu_module._SELUInPlace.backward = staticmethod(timed)
    try:
        step = step_time._profiled_step("cpu", "standard")
        conditions = {
            "alone": None,
            "torch.profiler, record_shapes=True": True,
            "torch.profiler, record_shapes=False": False,
        }
        results: dict[str, dict[str, list[float]]] = {name: {} for name in conditions}
        for _ in range(turns):
            for name, shapes in conditions.items():
                spent.clear()
                start = time.perf_counter()
                if shapes is None:
                    for _ in range(steps):
                        step()
                else:
                    with profile(record_shapes=shapes):
                        for _ in range(steps):
                            step()
                results[name].setdefault("step", []).append(1000 * (time.perf_counter() - start) / steps)
                for shape in ((32, 32, 28, 28), (32, 64, 14, 14)):
                    key = "x".join(map(str, shape))
                    results[name].setdefault(key, []).append(statistics.median(spent[shape]))
    finally:
        selu_module._SELUInPlace.backward = staticmethod(backward)
    print(f"medians of {turns} alternating turns of {steps} steps:")
    for name, got in results.items():
        step_ms = statistics.median(got.pop("step"))
        cells = ", ".join(f"{shape} {statistics.median(v):.3f} ms" for shape, v in got.items())
        print(f"{name}: step {step_ms:.2f} ms; SELU backward {cells}")


if __name__ == "__main__":
    modes = {
        "selu": selu,
        "pointwise": pointwise,
        "loop": loop,
        "loop-retained": lambda: loop(retained=True),
        "compile": compile_net,
        "batches": batches,
        "threads": threads,
        "layers": layers,
        "eval-chunks": eval_chunks,
        "exp": exp_kernels,
        "peak": peak,
        "standardise": standardise,
        "muon": muon,
        "conv-backward": conv_backward,
        "flatten-grad": flatten_grad,
        "step-levers": step_levers,
        "metric-updates": metric_updates,
        "backward-levers": backward_levers,
        "profiler-shapes": profiler_shapes,
        "sgd-fused": sgd_fused,
    }
    if sys.argv[1:2] == ["threads-variant"] and len(sys.argv) == 3:  # a worker of `threads`
        threads_variant(sys.argv[2])
        sys.exit()
    if sys.argv[1:2] == ["standardise-variant"] and len(sys.argv) == 3:  # a worker of `standardise`
        standardise_variant(sys.argv[2])
        sys.exit()
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit(f"dropped_levers.py: error: expected one of {', '.join(modes)}, received {sys.argv[1:]}")
    modes[sys.argv[1]]()
