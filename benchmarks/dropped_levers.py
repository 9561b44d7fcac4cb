"""The levers README "Performance" reports as tried and dropped, as they were measured.

python benchmarks/dropped_levers.py selu        # F.selu against SELU through exp(x) - 1 (speed, precision)
python benchmarks/dropped_levers.py pointwise   # 1x1 Conv2d against a matmul on the NHWC view (fwd + bwd)
python benchmarks/dropped_levers.py loop        # a plain training loop; run under `/usr/bin/time -v` and
                                                # with MALLOC_MMAP_THRESHOLD_ etc. to count page faults
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

ALPHA, SCALE = 1.6732632423543772, 1.0507009873554805


def median_ms(f: Callable[[], object], n: int = 60) -> float:
    for _ in range(5):
        f()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def selu_exp(x: torch.Tensor) -> torch.Tensor:
    out = torch.exp(x)
    out.sub_(1).mul_(ALPHA)
    torch.where(x > 0, x, out, out=out)
    return out.mul_(SCALE)


def selu() -> None:
    x = torch.randn(32, 32, 28, 28) * 0.5
    for name, f in (("F.selu", F.selu), ("exp(x) - 1", selu_exp)):
        small = torch.randn(100_000) * 1e-3  # this network's activation scale at initialisation
        exact = F.selu(small.double())
        error = ((f(small).double() - exact).abs() / exact.abs().clamp_min(1e-30)).max().item()
        print(f"{name:11s} {median_ms(lambda f=f: f(x)):.3f} ms per call, max relative error {error:.1e}")


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


def loop() -> None:
    from sepconv_torch import build_model

    net = build_model(seed=0).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for batch in (32, 128):
        x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,))

        def step(x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        print(f"batch {batch}: {median_ms(step, n=30):.1f} ms per step")


if __name__ == "__main__":
    modes = {"selu": selu, "pointwise": pointwise, "loop": loop}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit(f"dropped_levers.py: error: expected one of {', '.join(modes)}, received {sys.argv[1:]}")
    modes[sys.argv[1]]()
