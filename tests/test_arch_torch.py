"""sepconv_torch.arch on its own: TensorFlow's padding rule, names and keys, Keras' initialisation, export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from commands import ROOT

from sepconv import arch as A
from sepconv_torch.arch import build_torch
from sepconv_torch.arch.modules import KerasConv2d, same_pads


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        (8, 3, 2, (0, 1)),
        (9, 3, 2, (1, 1)),
        (5, 1, 2, (0, 0)),
        (4, 4, 1, (1, 2)),
        (7, 3, 1, (1, 1)),
        (2, 5, 3, (1, 2)),
    ],
)
def test_same_pads_follow_tensorflow(size: int, kernel: int, stride: int, pads: tuple[int, int]) -> None:
    assert same_pads(size, kernel, stride) == pads


def test_stride_two_same_pads_bottom_right_only() -> None:
    conv = KerasConv2d(1, 1, (3, 3), (2, 2), "same", bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    y = conv(torch.ones(1, 1, 4, 4))
    # windows start at rows/cols 0 and 2; the second reaches the one padded row/col at the bottom/right
    assert y.squeeze().tolist() == [[9.0, 6.0], [6.0, 4.0]]


def test_keys_come_from_keras_names() -> None:
    net = build_torch(A.load_yaml("mobilenet_v1_025_32"))
    keys = set(net.state_dict())
    assert {"conv1.weight", "conv_dw_1.weight", "conv_dw_1_bn.running_var", "conv_preds.bias"} <= keys
    assert "conv_dw_1_bn.num_batches_tracked" in keys
    assert not any(part.isdigit() for key in keys for part in key.split("."))
    ref = build_torch(A.load_yaml("reference"))
    assert {"sepconv1.conv_dw.weight", "sepconv1.conv_pw.weight", "sepconv1.conv_pw.bias"} <= set(
        ref.state_dict()
    )


def test_a_name_every_module_has_is_refused() -> None:
    arch = A.Architecture("n", (4, 4, 1), (A.Flatten("add_module"), A.Dense("d", 2)))
    with pytest.raises(A.ArchitectureError, match=r"^layer 'add_module' \(Flatten\): its PyTorch name"):
        build_torch(arch)


def test_kernels_initialised_by_keras_rule() -> None:
    arch = A.Architecture(
        "n",
        (6, 6, 4),
        (
            A.DepthwiseConv2D("dw", 3, depth_multiplier=2),
            A.Conv2D("c", 5, 3),
            A.Flatten("f"),
            A.Dense("d", 7),
        ),
    )
    net = build_torch(arch, seed=0)
    for row in A.weight_rows(arch):
        tensor = net.state_dict()[row.torch_key]
        if row.keras_weight == "bias":
            assert not tensor.any()
            continue
        *window, fin, fout = row.keras_shape
        limit = math.sqrt(6.0 / (math.prod(window) * (fin + fout)))  # Glorot uniform with Keras' fans
        assert tensor.abs().max() <= limit
        assert tensor.abs().max() > 0.8 * limit
    again = build_torch(arch, seed=0)
    pairs = zip(net.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v1_025_32", "pooling"])
def test_export_and_onnx_runtime(name: str) -> None:
    import onnxruntime

    arch = (
        A.load_yaml(name)
        if name != "pooling"
        else A.Architecture(
            "pooling",
            (7, 9, 2),
            (
                A.Conv2D("c", 4, 3, strides=2, padding="same"),
                A.AveragePooling2D("avg", 3, strides=2, padding="same"),
                A.MaxPooling2D("max", 2, strides=1, padding="same"),
                A.Flatten("f"),
                A.Dense("d", 3),
            ),
        )
    )
    net = build_torch(arch, seed=0).eval()
    with torch.no_grad():
        for key, tensor in net.state_dict().items():
            if key.endswith(("running_mean", "bias")):
                tensor.normal_(0.0, 0.1)
            elif key.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
    x = torch.randn(2, arch.input_shape[2], *arch.input_shape[:2])
    want = net(x).detach().numpy()
    exported = torch.export.export(net, (x,))
    assert np.abs(exported.module()(x).detach().numpy() - want).max() <= 1e-6
    program = torch.onnx.export(net, (x,), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString())
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.slow  # a fresh interpreter importing torch: 5-15 s here
def test_the_pytorch_side_loads_no_tensorflow() -> None:
    """Building, and importing the weight mapping, leave TensorFlow, Keras and parity unloaded."""
    import subprocess
    import sys

    code = (
        "import sys\nimport sepconv_torch.arch.weights\nfrom sepconv_torch.arch import build_torch\n"
        "from sepconv.arch import load_yaml\nbuild_torch(load_yaml('mobilenet_v1_025_32'))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'parity'}))"
    )
    command = [sys.executable, "-c", code]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
