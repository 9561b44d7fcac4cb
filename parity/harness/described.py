"""The parity checks for any network of the family (:mod:`sepconv.arch`), on its own description.

One Keras model of the description (the weights checked) and its PyTorch :class:`ArchNet`, weights
copied through the description's rows. Inputs are random normal images of the description's input
shape (no data set needed: any ``(H, W, C)`` and any number of classes). The rows of the report:

==================  =====================================================================  ===========
check               what                                                                    bound
==================  =====================================================================  ===========
param_counts        Keras ``count_params()`` = the description's = PyTorch parameters +    exact
                    BatchNorm moving mean/variance
forward float32     inference outputs, scale-aware (``max|Δ| / max(1, max|t|)``)           1e-5
forward float64     every layer's output (the first over the bound is named)               1e-12
gradients float64   training mode: the gradient of ``sum(out * w)`` for every weight,      1e-10
                    relative to ``max(1, max|g|)``
SGD step float64    one step (lr 0.01) in training mode: every weight and buffer           1e-12
                    (moving mean/variance) after it; ``num_batches_tracked`` = 1
trajectory float64  a few SGD steps on one batch: the objective at each, relative to        1e-10 or
                    ``max(1, |objective|)``, or 100x PyTorch's own 1e-14 sensitivity      chaos floor
round trip          Keras -> PyTorch -> Keras, every weight bit-exact                       0
ONNX Runtime        the port exported to ONNX (verified against PyTorch), against Keras     1e-5
==================  =====================================================================  ===========

``out`` is Keras' output and ``softmax`` of PyTorch's logits when the description ends in softmax.
Dropout in the training-mode checks: disabled (every ``Dropout``/``SpatialDropout2D`` at rate 0 on both
sides), and the rows say so. A :class:`DescribedPort` builds the PyTorch side; the broken ones in
:data:`DESCRIBED_PORTS` each get one numerics point wrong, and name the checks that must catch it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from parity.converter.errors import WeightFileError
from parity.harness.checks.result import CheckResult
from parity.harness.report import Report
from sepconv.arch import Architecture, Dropout, SpatialDropout2D, weight_rows
from sepconv.arch import transforms as T
from sepconv_torch.arch import ArchNet, build_torch
from sepconv_torch.arch import modules as M
from sepconv_torch.arch.weights import to_keras_array, to_torch_array, transforms

__all__ = ["DESCRIBED_PORTS", "DescribedPort", "randomize", "run_described", "without_dropout"]

FORWARD32_TOL = 1e-5
FLOAT64_TOL = 1e-12
#: training-mode gradients pass through every BatchNorm's batch statistics, which amplify rounding
#: (MobileNet 0.25 at batch 4: 1.1e-12); the reference suite's float64 gradient bound
GRADIENT64_TOL = 1e-10
#: the float64 objectives of a few SGD steps, relative to max(1, |objective|)
TRAJECTORY64_TOL = 1e-10
TRAJECTORY_LR = 1e-3
LR = 0.01


@dataclass(frozen=True)
class DescribedPort:
    """How the PyTorch side is made: ``alter`` changes a built network (after its weights are copied),
    ``table`` replaces named weight transforms (both directions); ``must_fail`` names the checks that
    must catch it (needing the layers in ``needs``: a BatchNorm, a stride-2 ``same`` conv, ...)."""

    name: str
    alter: Callable[[ArchNet], None] = lambda net: None
    table: dict[str, T.Transform] = field(default_factory=dict)
    must_fail: tuple[str, ...] = ()

    def transforms(self) -> dict[str, T.Transform]:
        """The transform table this port copies weights with."""
        return {**transforms(), **self.table}


def _modules(net: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


def _epsilon_1e5(net: ArchNet) -> None:
    for bn in _modules(net, M.KerasBatchNorm):
        bn.epsilon = 1e-5  # PyTorch's default; Keras' is 1e-3


class _UnbiasedBatchNorm(M.KerasBatchNorm):
    """PyTorch's ``running_var``: the unbiased batch variance (``n / (n - 1)``) moves the average."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if self.training:
            dims = [0, *range(2, x.dim())]
            n = x.numel() // x.shape[1]
            var = x.detach().var(dims, unbiased=False)
            with torch.no_grad():
                self.running_var.add_(var * (n / (n - 1) - 1.0) * (1.0 - self.momentum))
        return y


def _unbiased_running_var(net: ArchNet) -> None:
    for bn in _modules(net, M.KerasBatchNorm):
        bn.__class__ = _UnbiasedBatchNorm


def _symmetric_padding(net: ArchNet) -> None:
    for conv in _modules(net, M.KerasConv2d):
        if conv.keras_padding == "same" and max(conv.stride) > 1:
            conv.keras_padding = "valid"  # PyTorch's padding=k//2: one row/column on each side
            conv.padding = (conv.kernel_size[0] // 2, conv.kernel_size[1] // 2)


def _relu_uncapped(net: ArchNet) -> None:
    for relu in _modules(net, M.KerasReLU):
        relu.max_value = None
    for parent in net.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(parent, name, nn.ReLU())


def _interleaved(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(3, 2, 0, 1))  # (kh, kw, C, m) -> (m, C, kh, kw): k*C + c


def _deinterleaved(a: np.ndarray) -> np.ndarray:
    c, m, kh, kw = a.shape
    return np.ascontiguousarray(a.reshape(m, c, kh, kw).transpose(2, 3, 1, 0))


DESCRIBED_PORTS: dict[str, DescribedPort] = {
    port.name: port
    for port in (
        DescribedPort(
            "bn_epsilon_1e-5", _epsilon_1e5, must_fail=("forward64", "gradients", "sgd_step", "trajectory")
        ),
        DescribedPort("unbiased_running_var", _unbiased_running_var, must_fail=("sgd_step",)),
        DescribedPort(
            "symmetric_padding",
            _symmetric_padding,
            must_fail=("forward", "forward64", "gradients", "sgd_step", "trajectory"),
        ),
        DescribedPort(
            "relu_uncapped",
            _relu_uncapped,
            must_fail=("forward", "forward64", "gradients", "sgd_step", "trajectory"),
        ),
        DescribedPort(
            "depthwise_interleaved",
            table={
                "depthwise": T.Transform(
                    "depthwise_interleaved", "(kh, kw, C, m)", "(m, C, kh, kw)", _interleaved, _deinterleaved
                )
            },
            must_fail=("forward", "forward64", "gradients", "sgd_step", "trajectory"),
        ),
    )
}
CORRECT = DescribedPort("described")


def randomize(model: Any, seed: int) -> Any:
    """``model`` (Keras) with its kernels kept and every other weight random: biases, beta and moving mean
    N(0, 0.1), gamma and moving variance U(0.5, 1.5), so that no output is a constant (fresh MobileNet
    weights give every class 0.1, which a wrong port matches too)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = []
        for variable in layer.weights:
            name, shape = variable.path.rsplit("/", 1)[-1], tuple(variable.shape)
            if "kernel" in name:
                arrays.append(np.asarray(variable))
            elif name in ("gamma", "moving_variance"):
                arrays.append(rng.uniform(0.5, 1.5, shape))
            else:
                arrays.append(rng.normal(0.0, 0.1, shape))
        if arrays:
            layer.set_weights(arrays)
    return model


def without_dropout(arch: Architecture) -> Architecture:
    """``arch`` with every ``Dropout`` / ``SpatialDropout2D`` at rate 0 (training-mode checks)."""
    layers = tuple(
        dataclasses.replace(la, rate=0.0) if isinstance(la, Dropout | SpatialDropout2D) else la
        for la in arch.layers
    )
    return dataclasses.replace(arch, layers=layers)


def _keras_arrays(model: Any, arch: Architecture) -> list[np.ndarray]:
    per_layer = {
        la.name: [np.asarray(w) for w in model.get_layer(la.name).get_weights()] for la in arch.layers
    }
    return [per_layer[row.layer].pop(0) for row in weight_rows(arch)]


def _keras(arch: Architecture, arrays: list[np.ndarray], dtype: str) -> Any:
    from sepconv_keras.arch import build_keras

    model = build_keras(arch, dtype)
    per_layer: dict[str, list[np.ndarray]] = {}
    for row, array in zip(weight_rows(arch), arrays, strict=True):
        per_layer.setdefault(row.layer, []).append(array.astype(dtype))
    for name, values in per_layer.items():
        model.get_layer(name).set_weights(values)
    return model


def _torch(arch: Architecture, arrays: list[np.ndarray], dtype: str, port: DescribedPort) -> ArchNet:
    net = build_torch(arch, dtype=getattr(torch, dtype)).eval()
    state, table = net.state_dict(), port.transforms()
    with torch.no_grad():
        for row, array in zip(weight_rows(arch), arrays, strict=True):
            value = to_torch_array(row, array.astype(dtype), table)
            state[row.torch_key].copy_(torch.from_numpy(np.ascontiguousarray(value)))
    port.alter(net)
    return net


def _torch_keras_layout(net: ArchNet, arch: Architecture, port: DescribedPort) -> list[np.ndarray]:
    state, table = net.state_dict(), port.transforms()
    return [to_keras_array(row, state[row.torch_key].detach().numpy(), table) for row in weight_rows(arch)]


def _scaled(got: np.ndarray, want: np.ndarray) -> float:
    if got.shape != want.shape:
        return math.inf
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))


def _nhwc(t: torch.Tensor) -> np.ndarray:
    a = t.detach().numpy()
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def _out(net: ArchNet, arch: Architecture, x: np.ndarray) -> torch.Tensor:
    y = net(torch.from_numpy(x).permute(0, 3, 1, 2))
    return torch.softmax(y, dim=1) if arch.ends_in_softmax() else y


def _counts(model: Any, arch: Architecture, net: ArchNet) -> CheckResult:
    keras_count, described = int(model.count_params()), arch.count_params()
    torch_count = sum(p.numel() for p in net.parameters()) + sum(
        b.numel() for name, b in net.named_buffers() if name.endswith(("running_mean", "running_var"))
    )
    ok = keras_count == described == torch_count
    detail = f"Keras {keras_count}, description {described}, PyTorch {torch_count}"
    return CheckResult("param_counts", "parameter counts", ok, 0.0 if ok else 1.0, 0.0, None, detail)


def _forward32(
    arch: Architecture, arrays: list[np.ndarray], x: np.ndarray, port: DescribedPort
) -> CheckResult:
    model, net = _keras(arch, arrays, "float32"), _torch(arch, arrays, "float32", port)
    want = np.asarray(model(x.astype("float32"), training=False))
    with torch.no_grad():
        got = _out(net, arch, x.astype("float32")).numpy()
    diff = _scaled(got, want)
    return CheckResult(
        "forward", "forward float32", diff <= FORWARD32_TOL, diff, FORWARD32_TOL, None, "outputs"
    )


def _forward64(
    arch: Architecture, arrays: list[np.ndarray], x: np.ndarray, port: DescribedPort
) -> CheckResult:
    import keras

    model, net = _keras(arch, arrays, "float64"), _torch(arch, arrays, "float64", port)
    probe = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
    keras_out = [np.asarray(y) for y in probe(x, training=False)]
    with torch.no_grad():
        torch_out = net.forward_layers(torch.from_numpy(x).permute(0, 3, 1, 2))
    diffs: dict[str, float] = {}
    for layer, want in zip(arch.layers, keras_out, strict=True):
        got = torch_out[layer.name]
        if layer is arch.layers[-1] and arch.ends_in_softmax():
            got = torch.softmax(got, dim=1)
        diffs[layer.name] = _scaled(_nhwc(got), want)
    first = next((name for name, d in diffs.items() if not d <= FLOAT64_TOL), None)
    worst = max(diffs.values())
    return CheckResult(
        "forward64",
        "forward float64, per layer",
        first is None,
        worst,
        FLOAT64_TOL,
        first,
        f"first layer over the bound: {first}" if first else "every layer",
        {"error": list(diffs.values())},
        "shapes differ" if worst == math.inf else "",
    )


def _step(
    arch: Architecture, arrays: list[np.ndarray], x: np.ndarray, port: DescribedPort, sgd: bool
) -> tuple[float, str | None, str]:
    """Training mode, float64: the worst gradient difference (``sgd`` False), or the worst weight/buffer
    difference after one SGD step (``sgd`` True), with where it is."""
    import tensorflow as tf

    model, net = _keras(arch, arrays, "float64"), _torch(arch, arrays, "float64", port)
    w_out = np.random.default_rng(6).normal(0.0, 1.0, (x.shape[0], arch.classes))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * w_out)
    grads = tape.gradient(loss, model.trainable_weights)
    net.train()
    (_out(net, arch, x) * torch.from_numpy(w_out)).sum().backward()
    rows = weight_rows(arch)
    if not sgd:
        by_id = {id(v): np.asarray(g) for v, g in zip(model.trainable_weights, grads, strict=True)}
        params, table, worst, where = dict(net.named_parameters()), port.transforms(), 0.0, None
        for row in (r for r in rows if r.trainable):
            names = [r.keras_weight for r in rows if r.layer == row.layer and r.trainable]
            variable = model.get_layer(row.layer).trainable_weights[names.index(row.keras_weight)]
            grad = params[row.torch_key].grad
            got = to_keras_array(row, grad.numpy(), table) if grad is not None else None
            want = by_id[id(variable)]
            diff = math.inf if got is None else float(np.abs(got - want).max() / max(1.0, np.abs(want).max()))
            if diff > worst or where is None:
                worst, where = diff, f"{row.layer}/{row.keras_weight}"
        return worst, where, ""
    for variable, grad in zip(model.trainable_weights, grads, strict=True):
        variable.assign(variable - LR * grad)
    torch.optim.SGD(net.parameters(), lr=LR).step()
    worst, where = 0.0, None
    for row, got, want in zip(
        rows, _torch_keras_layout(net, arch, port), _keras_arrays(model, arch), strict=True
    ):
        diff = _scaled(got, want)
        if diff > worst or where is None:
            worst, where = diff, f"{row.layer}/{row.keras_weight}"
    counts = {name: int(b) for name, b in net.named_buffers() if name.endswith("num_batches_tracked")}
    wrong = [name for name, n in counts.items() if n != 1]
    if wrong:
        return math.inf, wrong[0], f"num_batches_tracked {counts[wrong[0]]}, 1 step taken"
    return worst, where, f"{len(counts)} num_batches_tracked = 1" if counts else ""


def _round_trip(arch: Architecture, arrays: list[np.ndarray], port: DescribedPort) -> CheckResult:
    model = _keras(arch, arrays, "float32")
    net = _torch(arch, _keras_arrays(model, arch), "float32", port)
    back = _keras(arch, _torch_keras_layout(net, arch, port), "float32")
    pairs = zip(weight_rows(arch), _keras_arrays(model, arch), _keras_arrays(back, arch), strict=True)
    bad = next((f"{r.layer}/{r.keras_weight}" for r, a, b in pairs if not np.array_equal(a, b)), None)
    return CheckResult(
        "round_trip",
        "round trip Keras -> PyTorch -> Keras",
        bad is None,
        0.0 if bad is None else 1.0,
        0.0,
        bad,
        "bit-exact" if bad is None else f"{bad} changed",
    )


def _torch_objectives(
    arch: Architecture,
    arrays: list[np.ndarray],
    x: np.ndarray,
    w_out: np.ndarray,
    port: DescribedPort,
    steps: int,
) -> list[float]:
    net = _torch(arch, arrays, "float64", port).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=TRAJECTORY_LR)
    found = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (_out(net, arch, x) * torch.from_numpy(w_out)).sum()
        loss.backward()
        optimizer.step()
        found.append(float(loss.detach()))
    return found


def _trajectory(
    arch: Architecture, arrays: list[np.ndarray], x: np.ndarray, port: DescribedPort, steps: int
) -> CheckResult:
    """``steps`` float64 SGD steps (training mode) on one batch in both frameworks, objective
    ``sum(out * w)`` at each. Deep BatchNorm chains trained on one small batch are chaotic (MobileNet
    0.25: a 1e-14 relative change of PyTorch's own weights grows ~100x per step), so each step's bound is
    the larger of ``TRAJECTORY64_TOL * max(1, |objective|)`` and 100 times what that 1e-14 perturbation
    of the PyTorch side alone makes at that step."""
    import tensorflow as tf

    model = _keras(arch, arrays, "float64")
    w_out = np.random.default_rng(6).normal(0.0, 1.0, (x.shape[0], arch.classes))
    keras_losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) * w_out)
        grads = tape.gradient(loss, model.trainable_weights)
        for variable, grad in zip(model.trainable_weights, grads, strict=True):
            variable.assign(variable - TRAJECTORY_LR * grad)
        keras_losses.append(float(loss))
    torch_losses = _torch_objectives(arch, arrays, x, w_out, port, steps)
    rng = np.random.default_rng(9)
    nudged = [a * (1.0 + 1e-14 * rng.normal(size=a.shape)) for a in arrays]
    floor = [
        abs(a - b)
        for a, b in zip(torch_losses, _torch_objectives(arch, nudged, x, w_out, port, steps), strict=True)
    ]
    diffs = [abs(a - b) for a, b in zip(keras_losses, torch_losses, strict=True)]
    bounds = [
        max(TRAJECTORY64_TOL * max(1.0, abs(k)), 100.0 * f) for k, f in zip(keras_losses, floor, strict=True)
    ]
    over = [i for i, (d, b) in enumerate(zip(diffs, bounds, strict=True)) if not d <= b]
    worst = max(range(steps), key=lambda i: diffs[i] / bounds[i])
    return CheckResult(
        "trajectory",
        f"trajectory float64, {steps} SGD steps",
        not over,
        diffs[worst],
        bounds[worst],
        f"step {over[0] if over else worst}",
        f"|objective_keras - objective_torch| per step (lr {TRAJECTORY_LR}); bound: max("
        f"{TRAJECTORY64_TOL:g} x max(1, |objective|), 100 x PyTorch against itself, weights changed 1e-14)",
        {"abs_diff": diffs, "tolerance": bounds},
    )


def _onnx(arch: Architecture, arrays: list[np.ndarray], x: np.ndarray, port: DescribedPort) -> CheckResult:
    """The PyTorch port exported to ONNX (verified against PyTorch on export), run by ONNX Runtime,
    against Keras (float32 probabilities, or outputs when the description has no softmax)."""
    import tempfile
    from pathlib import Path

    import onnxruntime

    from parity.converter.files.deploy import export_onnx

    model, net = _keras(arch, arrays, "float32"), _torch(arch, arrays, "float32", port)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.onnx"
        try:
            export_onnx(net, path, {})
        except WeightFileError as error:  # the export's own verification: ONNX Runtime vs PyTorch
            return CheckResult(
                "onnx",
                "ONNX Runtime vs Keras",
                False,
                math.inf,
                FORWARD32_TOL,
                None,
                str(error),
                inf_reason="the export failed",
            )
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = "probabilities" if arch.ends_in_softmax() else "logits"
        found = session.run([name], {"images": x.astype(np.float32).transpose(0, 3, 1, 2).copy()})[0]
    diff = _scaled(found, np.asarray(model(x.astype("float32"), training=False)))
    return CheckResult(
        "onnx", "ONNX Runtime vs Keras", diff <= FORWARD32_TOL, diff, FORWARD32_TOL, None, name
    )


def run_described(
    model: Any,
    arch: Architecture,
    port: DescribedPort = CORRECT,
    seed: int = 0,
    batch: int = 4,
    steps: int = 5,
    onnx: bool = False,
) -> Report:
    """Every check on ``model`` (a Keras model of ``arch``, or anything with ``get_layer(name)
    .get_weights()``) and its PyTorch port ``port``; inputs N(0, 1) of ``batch`` images; a float64
    trajectory of ``steps`` SGD steps; ``onnx`` adds ONNX Runtime against Keras."""
    began = time.perf_counter()
    arrays = [a.astype("float64") for a in _keras_arrays(model, arch)]
    x = np.random.default_rng(seed).normal(0.0, 1.0, (batch, *arch.input_shape))
    train_arch = without_dropout(arch)
    dropped = [la.name for la in arch.layers if isinstance(la, Dropout | SpatialDropout2D)]
    note = f"; Dropout disabled (rate 0): {', '.join(dropped)}" if dropped else ""
    off = ", Dropout off" if dropped else ""
    keras64 = _keras(arch, arrays, "float64")
    results = [
        _counts(keras64, arch, _torch(arch, arrays, "float64", port)),
        _forward32(arch, arrays, x, port),
        _forward64(arch, arrays, x, port),
    ]
    g, g_where, _ = _step(train_arch, arrays, x, port, sgd=False)
    results.append(
        CheckResult(
            "gradients",
            f"gradients float64, training mode{off}",
            g <= GRADIENT64_TOL,
            g,
            GRADIENT64_TOL,
            g_where,
            f"relative to max(1, max|g|){note}",
        )
    )
    s, s_where, s_detail = _step(train_arch, arrays, x, port, sgd=True)
    results.append(
        CheckResult(
            "sgd_step",
            f"SGD step float64, weights and buffers{off}",
            s <= FLOAT64_TOL,
            s,
            FLOAT64_TOL,
            s_where,
            f"lr {LR}, batch {batch}; {s_detail}{note}",
        )
    )
    results.append(_trajectory(train_arch, arrays, x, port, steps))
    results.append(_round_trip(arch, arrays, port))
    if onnx:
        results.append(_onnx(arch, arrays, x, port))
    return Report(results, f"{port.name} ({arch.name})", time.perf_counter() - began)
