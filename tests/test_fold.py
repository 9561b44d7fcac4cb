"""BatchNorm folded into the convolution before it (sepconv_torch.arch.fold): the same function, fewer
layers, the right epsilon and channel order; the exported ONNX file and ``predict`` use it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sepconv import arch as A
from sepconv_torch.arch import ArchNet, build_torch
from sepconv_torch.arch.fold import fold_batchnorm, foldable_pairs
from sepconv_torch.arch.modules import KerasBatchNorm

#: float64: folded vs unfolded eval output, max |Δ| / max(1, max |output|) (exact up to rounding)
TOL64 = 1e-12
#: float32: max |Δ| / max |output| (the folded weights are rounded to float32 once)
TOL32 = 1e-5

#: every kind of fold, and the BatchNorms that must stay: after a ReLU-activated conv, after an
#: activation layer, after a Dense layer
SMALL = {
    "name": "fold_cases",
    "input_shape": [9, 9, 3],
    "layers": [
        {"class": "SeparableConv2D", "name": "sep", "filters": 6, "kernel_size": 3, "depth_multiplier": 2,
         "padding": "same"},
        {"class": "BatchNormalization", "name": "sep_bn", "epsilon": 0.01},
        {"class": "ReLU", "name": "sep_relu"},
        {"class": "DepthwiseConv2D", "name": "dw", "kernel_size": 3, "depth_multiplier": 2, "strides": 2,
         "padding": "same"},
        {"class": "BatchNormalization", "name": "dw_bn"},
        {"class": "Activation", "name": "dw_relu", "activation": "relu"},
        {"class": "Conv2D", "name": "c_nocenter", "filters": 7, "kernel_size": 1, "use_bias": False},
        {"class": "BatchNormalization", "name": "c_nocenter_bn", "center": False},
        {"class": "Conv2D", "name": "c_noscale", "filters": 6, "kernel_size": 3, "padding": "same",
         "use_bias": False},
        {"class": "BatchNormalization", "name": "c_noscale_bn", "scale": False, "epsilon": 0.1},
        {"class": "Conv2D", "name": "c_plain", "filters": 5, "kernel_size": 1},
        {"class": "BatchNormalization", "name": "c_plain_bn", "center": False, "scale": False},
        {"class": "Conv2D", "name": "c_relu", "filters": 5, "kernel_size": 3, "activation": "relu"},
        {"class": "BatchNormalization", "name": "c_relu_bn"},
        {"class": "ReLU", "name": "relu"},
        {"class": "BatchNormalization", "name": "after_relu_bn"},
        {"class": "Flatten", "name": "flat"},
        {"class": "Dense", "name": "dense", "units": 8},
        {"class": "BatchNormalization", "name": "dense_bn"},
        {"class": "Dense", "name": "out", "units": 10, "activation": "softmax"},
    ],
}  # fmt: skip
SMALL_FOLDED = ("sep_bn", "dw_bn", "c_nocenter_bn", "c_noscale_bn", "c_plain_bn")
SMALL_KEPT = ("c_relu_bn", "after_relu_bn", "dense_bn")


def description(name: str) -> A.Architecture:
    return A.from_dict(SMALL) if name == "small" else A.load_yaml(name)


def randomized(net: ArchNet, seed: int = 0) -> ArchNet:
    """``net`` with every BatchNorm's statistics and affine parameters, and every bias, random (not the
    initial ones, under which a fold is nearly the identity): gamma of either sign, |gamma| in
    [0.5, 1.5], beta and the moving mean N(0, 0.5), moving variance U(0.01, 1) so that epsilon matters."""
    g = torch.Generator().manual_seed(seed)

    def draw(like: torch.Tensor, kind: str) -> torch.Tensor:
        n = like.shape
        if kind == "var":
            out = torch.rand(n, generator=g, dtype=torch.float64) * 0.99 + 0.01
        elif kind == "gamma":
            sign = torch.where(torch.rand(n, generator=g) < 0.2, -1.0, 1.0).double()
            out = sign * (torch.rand(n, generator=g, dtype=torch.float64) + 0.5)
        else:
            out = torch.randn(n, generator=g, dtype=torch.float64) * 0.5
        return out.to(like.dtype)

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, KerasBatchNorm):
                module.running_var.copy_(draw(module.running_var, "var"))
                module.running_mean.copy_(draw(module.running_mean, "shift"))
                if module.weight is not None:
                    module.weight.copy_(draw(module.weight, "gamma"))
                if module.bias is not None:
                    module.bias.copy_(draw(module.bias, "shift"))
            elif isinstance(module, nn.Conv2d | nn.Linear) and module.bias is not None:
                module.bias.copy_(draw(module.bias, "shift") * 0.2)
    return net


def eval_net(name: str, dtype: torch.dtype, seed: int = 0) -> ArchNet:
    return randomized(build_torch(description(name), seed=seed, dtype=dtype), seed).eval()


def images(net: ArchNet, dtype: torch.dtype, n: int = 16) -> torch.Tensor:
    h, w, c = net.description.input_shape
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(1), dtype=dtype)


def outputs(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x)


def scaled(found: torch.Tensor, expected: torch.Tensor) -> float:
    """max |found - expected| / max(1, max |expected|)."""
    return float((found - expected).abs().max()) / max(1.0, float(expected.abs().max()))


def batchnorms(net: nn.Module) -> int:
    return sum(isinstance(m, KerasBatchNorm) for m in net.modules())


@pytest.mark.parametrize("name", ["mobilenet_v1_025_32", "small"])
def test_float64_fold_is_exact(name: str) -> None:
    net = eval_net(name, torch.float64)
    x = images(net, torch.float64)
    expected, found = outputs(net, x), outputs(fold_batchnorm(net), x)
    assert float(expected.abs().max()) > 0.1  # not a vanishing output that anything matches
    assert scaled(found, expected) <= TOL64


@pytest.mark.parametrize("name", ["mobilenet_v1_025_32", "small"])
def test_float32_fold_within_rounding(name: str) -> None:
    net = eval_net(name, torch.float32)
    x = images(net, torch.float32)
    expected, found = outputs(net, x), outputs(fold_batchnorm(net), x)
    assert float((found - expected).abs().max()) <= TOL32 * float(expected.abs().max())


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        ("epsilon", "sep_bn"),  # epsilon 0.01: a fold with Keras' default 1e-3 is wrong
        ("epsilon", "c_noscale_bn"),  # epsilon 0.1
        ("epsilon", "dw_bn"),  # default 1e-3: a fold with PyTorch's 1e-5 is wrong
        ("channel_order", "dw_bn"),  # depthwise, depth_multiplier 2: c*m + k, not k*C + c
        ("channel_order", "sep_bn"),
    ],
)
def test_the_statistics_tell_a_wrong_fold(mutate: str, where: str) -> None:
    """The float64 check above would catch a fold with the wrong epsilon or channel order: such a
    fold's network (emulated by changing the BatchNorm it reads) is far outside TOL64."""
    net = eval_net("small", torch.float64)
    x = images(net, torch.float64)
    expected = outputs(net, x)
    bn = getattr(net, where)
    with torch.no_grad():
        if mutate == "epsilon":
            bn.epsilon = {0.01: 1e-3, 0.1: 1e-3, 1e-3: 1e-5}[bn.epsilon]
        else:
            c, m = bn.num_features // 2, 2  # read the (c, m) layout as (m, c)
            for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                t.copy_(t.reshape(c, m).T.reshape(-1))
    assert scaled(outputs(fold_batchnorm(net), x), expected) > 1e3 * TOL64


def test_which_batchnorms_fold() -> None:
    net = eval_net("small", torch.float64)
    folded = fold_batchnorm(net)
    assert folded.folded_batchnorm == SMALL_FOLDED
    assert [bn for _, bn in foldable_pairs(net)] == list(SMALL_FOLDED)
    for name in SMALL_FOLDED:
        assert isinstance(getattr(folded, name), nn.Identity)
    for name in SMALL_KEPT:  # after a ReLU-activated conv, an activation, a Dense layer
        assert isinstance(getattr(folded, name), KerasBatchNorm)
    assert (batchnorms(net), batchnorms(folded)) == (8, 3)


def test_mobilenet_keeps_no_batchnorm() -> None:
    net = eval_net("mobilenet_v1_025_32", torch.float32)
    folded = fold_batchnorm(net)
    assert (batchnorms(net), batchnorms(folded)) == (27, 0)
    assert len(folded.folded_batchnorm) == 27
    # the ONNX graph loses a Mul and an Add per BatchNorm (test_onnx_export_holds_no_batchnorm)


def test_state_dict_keys() -> None:
    """Conv keys keep their names (a bias added where the conv had none); folded BatchNorms' keys go;
    every other tensor is unchanged."""
    net = eval_net("small", torch.float64)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorm(net).state_dict()
    gone = {k for k in before if k.split(".")[0] in SMALL_FOLDED}
    added = {"c_nocenter.bias", "c_noscale.bias"}
    assert set(folded) == (set(before) - gone) | added
    assert "sep.conv_pw.bias" in folded and "dw.bias" in folded and "c_plain.bias" in folded
    changed = {k for k in set(folded) & set(before) if not torch.equal(folded[k], before[k])}
    assert changed == {
        "sep.conv_pw.weight",
        "sep.conv_pw.bias",
        "dw.weight",
        "dw.bias",
        "c_nocenter.weight",
        "c_noscale.weight",
        "c_plain.weight",
        "c_plain.bias",
    }
    # the input network is untouched
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert not net.training and batchnorms(net) == 8


def test_training_mode_is_refused() -> None:
    net = randomized(build_torch(description("small"), seed=0))
    with pytest.raises(ValueError, match="training mode"):
        fold_batchnorm(net)
    with pytest.raises(TypeError, match="ArchNet"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)))  # type: ignore[arg-type]


def test_channels_last_and_dtype_kept() -> None:
    net = eval_net("mobilenet_v1_025_32", torch.float32).to(memory_format=torch.channels_last)
    folded = fold_batchnorm(net)
    assert folded.conv1.weight.dtype == torch.float32 and folded.conv1.bias.dtype == torch.float32
    assert folded.conv_pw_1.weight.is_contiguous(memory_format=torch.channels_last)


def test_predict_runs_the_folded_network() -> None:
    from sepconv_torch.lit_module import SepConvLitModule

    module = SepConvLitModule(architecture="mobilenet_v1_025_32")
    randomized(module.net).eval()
    module.eval()
    module.on_predict_start()
    assert batchnorms(module._predict_net) == 0
    assert not any("_predict_net" in k for k in module.state_dict())
    x = images(module.net, torch.float32, 100)  # over eval_chunk_size: chunked
    with torch.no_grad():
        expected = torch.softmax(module(x), -1)
        found = module.predict_step(x, 0)
    assert float((found - expected).abs().max()) <= TOL32
    assert batchnorms(module.net) == 27  # the trained module itself is unchanged
    module.on_predict_end()
    with torch.no_grad():
        assert torch.equal(module.predict_step(x, 0), expected)


def test_trainer_predict_folds_and_matches_the_trained_module() -> None:
    """Through Lightning's predict loop (which puts the module in eval mode before on_predict_start):
    the probabilities are the folded network's, equal to the trained module's within TOL32."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from sepconv_torch.lit_module import SepConvLitModule

    seen: list[int] = []

    class Probe(L.Callback):
        def on_predict_batch_end(
            self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object
        ) -> None:
            seen.append(batchnorms(module._predict_net))

    module = SepConvLitModule(architecture="mobilenet_v1_025_32")
    randomized(module.net)
    x = images(module.net, torch.float32, 40)
    trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Probe()],
    )
    found = torch.cat(trainer.predict(module, DataLoader(TensorDataset(x), batch_size=20)))
    assert seen == [0, 0] and module._predict_net is None
    module.eval()  # Lightning put it back in training mode
    with torch.no_grad():
        expected = torch.softmax(module(x), -1)
    assert float((found - expected).abs().max()) <= TOL32


@pytest.mark.slow
def test_onnx_export_holds_no_batchnorm(tmp_path: Path) -> None:
    """The exported file is the folded network: no BatchNormalization node, and none of the Mul/Add
    pairs an unfolded KerasBatchNorm exports to; ONNX Runtime matches the unfolded network."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from parity.converter.files.deploy import export_onnx

    net = eval_net("mobilenet_v1_025_32", torch.float32)
    path = tmp_path / "net.onnx"
    export_onnx(net, path)
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("Conv") == 28
    assert not {"BatchNormalization", "Mul", "Add", "Sqrt", "Reciprocal"} & set(ops), ops
    x = images(net, torch.float32, 64)
    found = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        ["logits"], {"images": x.numpy()}
    )[0]
    expected = outputs(net, x).numpy()
    assert batchnorms(net) == 27  # the exporter folded a copy
    assert np.max(np.abs(found - expected)) <= TOL32 * np.max(np.abs(expected))
    assert math.isfinite(float(np.max(np.abs(found))))
