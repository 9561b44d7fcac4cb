"""sepconv.arch.cost: multiply-adds from a description, against the seed's formula and PyTorch's counter."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from sepconv import arch as A
from sepconv.arch.cost import flops, multiply_adds
from sepconv.described import read_architecture
from sepconv_torch.arch import build_torch


@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, "same"), (1, "valid"), (2, "valid")])
def test_the_seeds_formula_separable_against_ordinary(stride: int, padding: str) -> None:
    dk, m, n = 3, 8, 16
    layers = [
        A.SeparableConv2D(name="sep", filters=n, kernel_size=dk, strides=stride, padding=padding),
        A.Conv2D(name="conv", filters=n, kernel_size=dk, strides=stride, padding=padding),
        A.Flatten(name="flat"),
        A.Dense(name="out", units=10),
    ]
    sep = A.Architecture("sep", (12, 12, m), (layers[0], layers[2], layers[3]))
    conv = A.Architecture("conv", (12, 12, m), tuple(layers[1:]))
    df2 = sep.shapes["sep"][0] * sep.shapes["sep"][1]  # output positions
    assert multiply_adds(sep)["sep"] == dk * dk * m * df2 + m * n * df2
    assert multiply_adds(conv)["conv"] == dk * dk * m * n * df2
    assert multiply_adds(sep)["out"] == df2 * n * 10


def test_depth_multiplier_and_dense_on_features() -> None:
    net = A.Architecture(
        "dm",
        (10, 10, 4),
        [
            A.DepthwiseConv2D(name="dw", kernel_size=3, depth_multiplier=2, padding="same"),
            A.SeparableConv2D(name="sep", filters=5, kernel_size=3, depth_multiplier=3, padding="valid"),
            A.GlobalAveragePooling2D(name="gap"),
            A.Dense(name="out", units=10),
        ],
    )
    assert multiply_adds(net) == {"dw": 9 * 4 * 2 * 100, "sep": (9 * 8 * 3 + 24 * 5) * 64, "out": 50}


@pytest.mark.parametrize("name", ["reference", "standard", "mobilenet_v1_025_32"])
def test_flops_equal_pytorchs_counter_on_the_built_network(name: str) -> None:
    arch = read_architecture(name)
    net = build_torch(arch, seed=0).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(2, arch.input_shape[2], *arch.input_shape[:2]))
    assert counter.get_total_flops() == 2 * flops(arch)


def test_ordinary_convolutions_cost_more_than_separable() -> None:
    reference, standard = (flops(read_architecture(n)) for n in ("reference", "standard"))
    assert 7 < standard / reference < 7.3  # 58.55 against 8.13 MFLOP: the seed's trade in one number
