"""Does an imported TensorFlow slow PyTorch's CPU training step? Median of 40 SGD steps (batch 32).

Usage: python scripts/bench_torch_with_tf.py MODE, MODE one of: notf, tf (TensorFlow imported first,
triton before it), notf1 / tf1 (the same with torch.set_num_threads(1)). Run the modes one after another
on an idle machine and compare the medians.
"""

from __future__ import annotations

import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "notf"
if mode.startswith("tf"):
    from sepconv.compat import import_tensorflow

    import_tensorflow()
import torch

from sepconv_torch import build_model

if mode.endswith("1"):
    torch.set_num_threads(1)
model = build_model(seed=0).to(memory_format=torch.channels_last)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(32, 1, 28, 28).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (32,))
times = []
for _ in range(40):
    start = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    times.append(time.perf_counter() - start)
times.sort()
print(f"{mode}: median {1000 * times[len(times) // 2]:.1f} ms/step, {torch.get_num_threads()} threads")
