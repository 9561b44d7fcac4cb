"""Training-step and inference time of Keras ``fit``, a plain PyTorch loop and the Lightning path.

Each measurement runs in a fresh process of its own (one framework per process), and the paths are
interleaved round by round, so that machine noise hits them alike. Same real data, batch 32 for
training (steady state: the first ``--warmup`` steps are dropped), batch 256 for inference over the
10,000 test images. Prints medians over rounds and the ratio to Keras, with the CPU model and
PyTorch's CPU capability.

    python benchmarks/step_time.py                     # 3 rounds, all paths
    python benchmarks/step_time.py --rounds 5 --json step_time.json
    python benchmarks/step_time.py --profile           # per-op profile of the PyTorch step
    python benchmarks/step_time.py --paths torch torch-selu-exp torch-nn-selu torch-malloc-default  # levers
    python benchmarks/step_time.py --device cuda        # on a GPU (``auto``, the default, picks one)
    python benchmarks/step_time.py --architecture mobilenet_v1_025_32 --json mobilenet.json
    python benchmarks/step_time.py --architecture standard --profile
    python benchmarks/step_time.py --architecture standard --op-times  # each ATen call timed, by shape
    python benchmarks/step_time.py --architecture standard --threads 1  # one thread each, on a busy machine

``--architecture NAME|FILE`` (a shipped name, YAML description or Keras model file, as
``sepconv-torch fit --model.architecture`` takes it) times a described network instead of the
reference: ``keras`` builds it with :func:`sepconv_keras.arch.build_keras` (softmax appended where the
description does not end in one, as ``sepconv-keras train --architecture``), ``lightning`` with
``SepConvLitModule(architecture=...)`` (the data module presents the images as the description's input
needs, :mod:`sepconv.data.present`), ``torch`` with :func:`sepconv_torch.arch.build_torch`,
channels-last, fed the same presented images. ``--architecture reference`` is the shipped reference
description through those builders (what ``--model.architecture reference`` trains). The variant paths
that switch the built-in reference network's own options (``REFERENCE_ONLY``) are refused with any
other description; ``torch-malloc-default`` and ``lightning-bf16`` take any.

Paths: ``keras`` (``model.fit``), ``lightning`` (``Trainer.fit(SepConvLitModule(),
FashionMNISTDataModule())`` with the CLI's defaults: ``deterministic=True``, the progress bar redrawn
every ``PROGRESS_REFRESH`` batches),
``torch`` (a plain loop over the default ``build_model()``, channels-last, with
``retain_freed_memory()`` as ``SepConvLitModule`` applies it), and, on request, ``torch-nn-selu``
(that loop with PyTorch's ``nn.SELU(inplace=True)``, i.e. float32 ``expm1``), ``torch-selu-exp`` (our
SELU with ``exp`` where it would use ``exp2``), ``torch-literal-order`` (every activation before its
max pool, as the spec lists them, instead of after it), ``torch-malloc-default``
(that loop with glibc's default malloc settings), ``torch-onednn-backward`` (that loop with PyTorch's
one-call oneDNN convolution backward instead of ``sepconv_torch.conv``'s three calls),
``lightning-bf16`` (the Lightning path with ``precision="bf16-mixed"``), ``lightning-literal-order``
(the Lightning path over a network that runs every activation before its max pool) and
``lightning-onednn-backward`` (the Lightning path with ``split_conv_backward=False``).

``--json FILE`` writes ``medians`` (``{path: {"step_ms", "infer256_ms"}}``, the medians over rounds),
every round's measurement (``runs``), the ``architecture`` name (``"sepconv"``, the built-in reference
network, without the flag), the CPU and the device.

On CUDA (``--device cuda``) the PyTorch paths keep the whole data set on the GPU and draw batches
there (the Lightning path through ``FashionMNISTDataModule``, which does so on any accelerator), and
every timestamp follows a ``torch.cuda.synchronize()``; Keras runs where TensorFlow places it. With
``--device cpu`` no GPU is visible to either framework (``CUDA_VISIBLE_DEVICES=""``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PATHS = (
    "keras",
    "lightning",
    "torch",
    "torch-nn-selu",
    "torch-selu-exp",
    "torch-literal-order",
    "torch-malloc-default",
    "torch-onednn-backward",
    "lightning-bf16",
    "lightning-literal-order",
    "lightning-onednn-backward",
)
#: Lightning paths other than the default: ``SepConvLitModule`` arguments
LIGHTNING_MODULE_ARGS: dict[str, dict[str, bool]] = {
    "lightning-literal-order": {"pool_before_activation": False},
    "lightning-onednn-backward": {"split_conv_backward": False},
}
DEFAULT_PATHS = ("keras", "lightning", "torch")
#: paths that switch options of the built-in reference network (``build_model``): not for other descriptions
REFERENCE_ONLY = (
    "torch-nn-selu",
    "torch-selu-exp",
    "torch-literal-order",
    "torch-onednn-backward",
    "lightning-literal-order",
    "lightning-onednn-backward",
)
MFLOP_PER_SAMPLE = 24.4  # forward + backward of one training sample (README, "Performance")


def describe_cpu(lscpu: str) -> str:
    """One line that tells hosts apart, from ``lscpu``'s output: the model name, then what a virtual
    machine's name alone hides (family and model, AVX-512 and AMX, the L2 and L3 totals), e.g.
    ``Intel(R) Xeon(R) Processor (family 6 model 143; AVX-512, AMX; L2 4 MiB, L3 105 MiB)``."""
    fields = {}
    for line in lscpu.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    name = fields.get("Model name") or platform.processor() or "unknown"
    flags = set(fields.get("Flags", "").split())
    details = []
    if "CPU family" in fields and "Model" in fields:
        details.append(f"family {fields['CPU family']} model {fields['Model']}")
    units = [label for flag, label in (("avx512f", "AVX-512"), ("amx_tile", "AMX")) if flag in flags]
    if units:
        details.append(", ".join(units))
    # "4 MiB (2 instances)": the total over the cores, without the count
    caches = [
        f"{level} {fields[f'{level} cache'].split(' (')[0]}"
        for level in ("L2", "L3")
        if f"{level} cache" in fields
    ]
    if caches:
        details.append(", ".join(caches))
    return f"{name} ({'; '.join(details)})" if details else name


def cpu_model() -> str:
    """:func:`describe_cpu` of this machine (the model name alone where ``lscpu`` is missing)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    return describe_cpu(text)


def _median_ms(times: list[float], warmup: int) -> float:
    return 1000 * statistics.median(times[warmup:])


# ----------------------------------------------------------------------------- workers (one per process)


def _clock(device: str) -> Any:
    """``time.perf_counter`` after the device's queued work is done."""
    import torch

    def clock() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    return clock


def _torch_net(variant: str) -> Any:
    """The default network, channels-last; ``torch-nn-selu`` swaps in PyTorch's own SELU."""
    import torch
    from torch import nn

    from sepconv_torch import build_model
    from sepconv_torch.host_memory import retain_freed_memory
    from sepconv_torch.selu import SELU

    if variant != "torch-malloc-default":
        retain_freed_memory()
    if variant == "torch-selu-exp":
        from sepconv_torch import selu

        selu._cpu_prefers_exp2 = lambda: False
    net = build_model(
        seed=0,
        pool_before_activation=variant != "torch-literal-order",
        split_conv_backward=variant != "torch-onednn-backward",
    )
    if variant == "torch-nn-selu":
        for name in net.activations:
            if isinstance(net.activations[name], SELU):
                net.activations[name] = nn.SELU(inplace=True)
    return net.to(memory_format=torch.channels_last)


def _described_torch_net(variant: str, architecture: str) -> Any:
    """``build_torch`` of the description, channels-last, with the Lightning module's host-memory setting."""
    import torch

    from sepconv.described import read_architecture
    from sepconv_torch.arch import build_torch
    from sepconv_torch.host_memory import retain_freed_memory

    if variant != "torch-malloc-default":
        retain_freed_memory()
    net = build_torch(read_architecture(architecture, "--architecture"), seed=0)
    return net.to(memory_format=torch.channels_last)


def _presented_nchw(images: Any, splits: Any, architecture: str | None) -> Any:
    """NHWC standardised images as the network's ``(N, C, H, W)`` tensor (:mod:`sepconv.data.present`)."""
    import torch

    from sepconv.data.present import as_nchw, present
    from sepconv.described import read_architecture

    if architecture is not None:
        images = present(images, read_architecture(architecture).input_shape, splits.background)
    return torch.from_numpy(as_nchw(images))


def worker_torch(
    steps: int, warmup: int, variant: str, device: str = "cpu", architecture: str | None = None
) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    from sepconv.data import load_splits

    if variant in REFERENCE_ONLY:
        architecture = None  # an option of the built-in reference network
    splits = load_splits(download=False)
    clock = _clock(device)
    # the whole set on the device, presented as the network's input
    x_all = _presented_nchw(splits.images("train"), splits, architecture).to(device)
    y_all = torch.from_numpy(splits.labels("train")).to(device)
    net = (_torch_net(variant) if architecture is None else _described_torch_net(variant, architecture)).to(
        device
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    for i in range(steps):
        start = clock()
        idx = order[i * 32 : (i + 1) * 32]
        x = x_all[idx].contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(net(x), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(clock() - start)
    x_test = _presented_nchw(splits.images("test"), splits, architecture).to(device)
    net.eval()
    infer = []
    with torch.inference_mode():
        for _ in range(2):
            for b in range(0, len(x_test), 256):
                start = clock()
                torch.softmax(net(x_test[b : b + 256].contiguous(memory_format=torch.channels_last)), -1)
                infer.append(clock() - start)
    return {"step_ms": _median_ms(times, warmup), "infer256_ms": 1000 * statistics.median(infer)}


def worker_lightning(
    steps: int,
    warmup: int,
    precision: str = "32-true",
    device: str = "cpu",
    module_args: dict[str, bool] | None = None,
    architecture: str | None = None,
) -> dict[str, float]:
    import lightning as L
    from lightning.pytorch.callbacks import TQDMProgressBar

    from sepconv_torch import FashionMNISTDataModule, SepConvLitModule
    from sepconv_torch.cli import PROGRESS_REFRESH

    clock = _clock(device)
    accelerator = "gpu" if device == "cuda" else "cpu"

    class Timer(L.Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []

        def on_train_batch_start(self, *args: Any) -> None:
            self.starts.append(clock())

        def on_train_end(self, *args: Any) -> None:
            self.starts.append(clock())

    timer = Timer()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        deterministic=True,
        accelerator=accelerator,
        devices=1,
        precision=precision,
        callbacks=[timer, TQDMProgressBar(refresh_rate=PROGRESS_REFRESH)],  # the CLI's bar
    )
    L.seed_everything(0, verbose=False)
    data = FashionMNISTDataModule(download=False)
    module = SepConvLitModule(**(module_args or {}), architecture=architecture)  # presented as it needs
    trainer.fit(module, datamodule=data)
    times = [b - a for a, b in itertools.pairwise(timer.starts)]
    predict = L.Trainer(
        logger=False, accelerator=accelerator, devices=1, enable_progress_bar=False, precision=precision
    )
    data.hparams.eval_batch_size = 256
    start = clock()
    batches = predict.predict(trainer.lightning_module, datamodule=data)
    infer_ms = 1000 * (clock() - start) / len(batches)
    return {"step_ms": _median_ms(times, warmup), "infer256_ms": infer_ms}


def keras_model(architecture: str | None) -> tuple[Any, Any, Any]:
    """``(model, train, x_test)``: the Keras model the ``keras`` path times, compiled with SGD 0.01 as the
    Lightning paths train (the built-in reference, or ``architecture`` built by ``build_keras`` with a
    softmax appended where its description has none, as ``sepconv-keras train --architecture``), its
    shuffled training batches of 32 and the test images, presented as the description's input needs.
    TensorFlow must be imported already (:func:`sepconv.compat.import_tensorflow`)."""
    import keras

    from sepconv.data import load_splits
    from sepconv_keras.data import make_dataset
    from sepconv_keras.model import build_model

    splits = load_splits(download=False)
    keras.utils.set_random_seed(0)
    x_train, x_test = splits.x_train, splits.x_test
    if architecture is None:
        model = build_model(seed=0)
    else:
        from sepconv.data.present import present
        from sepconv.described import read_architecture
        from sepconv_keras.arch import build_keras

        description = read_architecture(architecture, "--architecture")
        model = build_keras(description, seed=0)
        if not description.ends_in_softmax():
            model.add(keras.layers.Activation("softmax", name="probabilities"))
        x_train = present(x_train, description.input_shape, splits.background)
        x_test = present(x_test, description.input_shape, splits.background)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model, make_dataset(x_train, splits.y_train, 32, shuffle=True, seed=0), x_test


def keras_step_times(model: Any, train: Any, steps: int) -> list[float]:
    """Seconds of each of ``steps`` training steps of ``model.fit`` (batch start to batch start)."""
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.starts: list[float] = []

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            self.starts.append(time.perf_counter())

        def on_train_end(self, logs: Any = None) -> None:
            self.starts.append(time.perf_counter())

    timer = Timer()
    model.fit(train, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    return [b - a for a, b in itertools.pairwise(timer.starts)]


def worker_keras(steps: int, warmup: int, architecture: str | None = None) -> dict[str, float]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sepconv.compat import import_tensorflow

    tf = import_tensorflow()
    if "TF_NUM_INTRAOP_THREADS" in os.environ:  # --threads
        tf.config.threading.set_intra_op_parallelism_threads(int(os.environ["TF_NUM_INTRAOP_THREADS"]))
    model, train, x_test = keras_model(architecture)
    times = keras_step_times(model, train, steps)
    model.predict(x_test[:512], batch_size=256, verbose=0)
    start = time.perf_counter()
    model.predict(x_test, batch_size=256, verbose=0)
    infer_ms = 1000 * (time.perf_counter() - start) / -(-len(x_test) // 256)
    return {"step_ms": _median_ms(times, warmup), "infer256_ms": infer_ms}


def run_worker(
    path: str, steps: int, warmup: int, device: str, architecture: str | None = None
) -> dict[str, float]:
    if path == "keras":
        return worker_keras(steps, warmup, architecture)
    if path == "lightning":
        return worker_lightning(steps, warmup, device=device, architecture=architecture)
    if path == "lightning-bf16":
        return worker_lightning(
            steps, warmup, precision="bf16-mixed", device=device, architecture=architecture
        )
    if path in LIGHTNING_MODULE_ARGS:
        return worker_lightning(steps, warmup, device=device, module_args=LIGHTNING_MODULE_ARGS[path])
    return worker_torch(steps, warmup, variant=path, device=device, architecture=architecture)


def _profiled_step(device: str, architecture: str | None) -> Any:
    """A plain SGD step (batch 32, random images) of the network ``--profile`` and ``--op-times`` look
    at, warmed up by 10 steps."""
    import torch
    import torch.nn.functional as F

    from sepconv.described import read_architecture

    if architecture is None:
        net, (h, w, c) = _torch_net("torch"), (28, 28, 1)
    else:
        net, (h, w, c) = (
            _described_torch_net("torch", architecture),
            read_architecture(architecture).input_shape,
        )
    net = net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x = torch.randn(32, c, h, w, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,), device=device)

    def step() -> None:
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(10):
        step()
    return step


def _header(architecture: str | None) -> str:
    import torch

    return (
        f"network: {architecture or 'sepconv (built-in reference)'}; CPU: {cpu_model()}; "
        f"PyTorch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}"
    )


def profile(steps: int, device: str = "cpu", architecture: str | None = None) -> None:
    """``torch.profiler``'s table of the step, by op name. Input shapes are not recorded: with
    ``record_shapes=True`` the memory-bound kernels of a 28x28 layer can run several times slower inside the
    profiled step (docs/performance.md); :func:`op_times` gives times per input shape."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    step = _profiled_step(device, architecture)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
    print(_header(architecture))
    sort_by = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort_by, row_limit=25))


def op_times(steps: int, architecture: str | None = None, rows: int = 25) -> list[dict[str, Any]]:
    """Wall time of every ATen call of the step on the CPU, by op and first input shape, measured by a
    ``TorchDispatchMode`` that brackets each call with ``perf_counter``; prints the table and the step's
    time with and without the timer (its overhead lies between the calls, not inside them).

    Returns the rows, slowest first: ``op``, ``shape``, ``calls`` and ``ms`` per step."""
    from collections import defaultdict

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    step = _profiled_step("cpu", architecture)
    spent: dict[tuple[str, tuple[int, ...]], list[float]] = defaultdict(lambda: [0, 0.0])

    class Timer(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            out = func(*args, **(kwargs or {}))
            seconds = time.perf_counter() - start
            first = args[0] if args else None
            key = (str(func.overloadpacket), tuple(first.shape) if isinstance(first, torch.Tensor) else ())
            spent[key][0] += 1
            spent[key][1] += seconds
            return out

    def timed_steps() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return 1000 * (time.perf_counter() - start) / steps

    plain = timed_steps()
    with Timer():
        timed = timed_steps()
    table = sorted(
        (
            {"op": op, "shape": list(shape), "calls": calls / steps, "ms": 1000 * seconds / steps}
            for (op, shape), (calls, seconds) in spent.items()
        ),
        key=lambda row: -row["ms"],
    )
    inside = sum(row["ms"] for row in table)
    print(_header(architecture))
    print(
        f"{steps} steps: {plain:.2f} ms per step without the timer, {timed:.2f} ms with it, "
        f"{inside:.2f} ms of that inside ATen calls\n"
    )
    print("| op | first input shape | calls per step | ms per step | share of the calls' time |")
    print("|---|---|---|---|---|")
    for row in table[:rows]:
        shape = "x".join(map(str, row["shape"])) or "-"
        share = row["ms"] / inside if inside else 0.0
        print(f"| {row['op']} | {shape} | {row['calls']:g} | {row['ms']:.3f} | {share:.1%} |")
    return table


# ----------------------------------------------------------------------------- driver


def _set_threads(threads: int | None) -> None:
    """Fix both frameworks' intra-op thread counts (before either runs an op); ``None`` leaves them."""
    if threads is None:
        return
    os.environ["OMP_NUM_THREADS"] = os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    if "torch" in sys.modules:  # PyTorch read the variable when it loaded
        sys.modules["torch"].set_num_threads(threads)


def _refuse(message: str) -> None:
    print(f"step_time: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _check_architecture(architecture: str, paths: list[str]) -> str:
    """The description's name; one-line refusal of an unreadable one or of a reference-only path."""
    from sepconv.arch import ArchitectureError, to_dict
    from sepconv.described import check_trainable, read_architecture
    from sepconv.errors import InputError

    try:
        description = check_trainable(read_architecture(architecture, "--architecture"), architecture)
        reference = to_dict(description) == to_dict(read_architecture("reference"))
    except (ArchitectureError, InputError, OSError) as error:
        _refuse(str(error).splitlines()[0])
    refused = [path for path in paths if path in REFERENCE_ONLY]
    if refused and not reference:
        _refuse(
            f"--paths {' '.join(refused)}: options of the reference network only, not of "
            f"--architecture {architecture} ({description.name})"
        )
    return description.name


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paths", nargs="+", choices=PATHS, default=list(DEFAULT_PATHS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=150, help="training steps per measurement (default 150)")
    p.add_argument("--warmup", type=int, default=30, help="steps dropped before the median (default 30)")
    p.add_argument("--json", type=Path, help="write the table and every measurement as JSON")
    p.add_argument("--profile", action="store_true", help="print a per-op profile of the PyTorch step")
    p.add_argument(
        "--op-times",
        action="store_true",
        help="print every ATen call's wall time in the PyTorch step on the CPU, by op and input shape",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where PyTorch (and, with cuda, TensorFlow) runs; auto: cuda if there is a GPU (default)",
    )
    p.add_argument(
        "--architecture",
        metavar="NAME|FILE",
        help="time a described network (shipped name, YAML or Keras file) instead of the reference",
    )
    p.add_argument(
        "--threads",
        type=int,
        help="CPU threads of every path (PyTorch's and TensorFlow's intra-op pools; "
        "default: each framework's own)",
    )
    p.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.profile and args.op_times:
        _refuse("--profile and --op-times are two views of one step: give one of them")
    if args.warmup >= args.steps and not (args.profile or args.op_times):
        p.error(f"--warmup must be below --steps, received {args.warmup} >= {args.steps}")
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be a positive integer, received {args.threads}")
    if args.worker:
        _set_threads(args.threads)
        print(json.dumps(run_worker(args.worker, args.steps, args.warmup, args.device, args.architecture)))
        return 0
    name = "sepconv"  # the built-in reference network
    if args.architecture is not None:
        name = _check_architecture(args.architecture, args.paths)

    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: PyTorch sees no CUDA device here")
    if args.profile:
        _set_threads(args.threads)
        profile(args.steps, args.device, args.architecture)
        return 0
    if args.op_times:
        if args.device != "cpu":
            _refuse(f"--op-times times CPU calls; on {args.device} they only launch kernels: use --profile")
        _set_threads(args.threads)
        op_times(args.steps, args.architecture)
        return 0

    capability = torch.backends.cpu.get_cpu_capability()
    runs: dict[str, list[dict[str, float]]] = {path: [] for path in args.paths}
    for r in range(args.rounds):
        for path in args.paths:
            command = [sys.executable, __file__, "--worker", path, "--steps", str(args.steps)]
            command += ["--warmup", str(args.warmup), "--device", args.device]
            command += [] if args.architecture is None else ["--architecture", args.architecture]
            command += [] if args.threads is None else ["--threads", str(args.threads)]
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if args.device == "cpu" else {})}
            proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
            if proc.returncode != 0:
                print(
                    f"step_time: error: {path} failed: {proc.stderr.strip().splitlines()[-1:]}",
                    file=sys.stderr,
                )
                return 1
            runs[path].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} {path}: {runs[path][-1]}", file=sys.stderr)
    table = {
        path: {key: statistics.median(m[key] for m in ms) for key in ("step_ms", "infer256_ms")}
        for path, ms in runs.items()
    }
    ref = table.get("keras")
    print(
        f"CPU: {cpu_model()}; {os.cpu_count()} logical cores; "
        f"PyTorch {torch.__version__}, capability {capability}"
    )
    if args.device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()} (PyTorch paths; Keras where TensorFlow placed it)")
    print(
        f"network: {name}; threads: {args.threads or 'default'}; "
        f"medians of {args.rounds} interleaved rounds, "
        f"{args.steps - args.warmup} steady steps each, batch 32\n"
    )
    print("| path | ms per step | vs Keras | GFLOP/s | inference ms / 256 | vs Keras |")
    print("|---|---|---|---|---|---|")
    for path, row in table.items():
        step_ratio = f"{row['step_ms'] / ref['step_ms']:.2f}" if ref else "-"
        infer_ratio = f"{row['infer256_ms'] / ref['infer256_ms']:.2f}" if ref else "-"
        gflops = f"{MFLOP_PER_SAMPLE * 32 / row['step_ms']:.0f}" if name in ("sepconv", "reference") else "-"
        cells = [
            path,
            f"{row['step_ms']:.2f}",
            step_ratio,
            gflops,
            f"{row['infer256_ms']:.1f}",
            infer_ratio,
        ]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "architecture": name,
                    "cpu": cpu_model(),
                    "capability": capability,
                    "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
                    "rounds": args.rounds,
                    "threads": args.threads,
                    "medians": table,
                    "table": table,  # the same medians, under their older key
                    "runs": runs,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
