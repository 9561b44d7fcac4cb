"""Deliberately broken ports: the classic hand-porting mistakes, for showing that every check can fail.

Each entry is a :class:`~parity.harness.port.Port` that gets one thing wrong and
documents which checks must catch it (``must_fail``); the test matrix in
``tests/parity/test_checks.py`` asserts exactly that, and
``sepconv-parity --port NAME`` runs the report on one of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

import sepconv_torch
from parity.converter.mapping import DEFAULT_TRANSFORMS
from parity.harness.port import Port
from sepconv.arch import transforms as T
from sepconv.spec import REFERENCE, LayerSpec
from sepconv_torch.init import keras_init_

__all__ = ["BROKEN_PORTS", "BrokenPort"]


@dataclass(frozen=True)
class BrokenPort:
    """A broken port and the names of the checks (in ``CHECKS``) that must fail on it."""

    port: Port
    must_fail: tuple[str, ...]


def _spec_with(**changes: dict[str, object]) -> tuple[LayerSpec, ...]:
    """The reference table with per-layer field changes, e.g. ``conv1={"padding": "valid"}``."""
    return tuple(dataclasses.replace(layer, **changes.get(layer.name, {})) for layer in REFERENCE)


def _build(spec: tuple[LayerSpec, ...]) -> Callable[[], nn.Module]:
    return lambda: sepconv_torch.build_model(spec)


def _no_pointwise_bias() -> nn.Module:
    """The separable blocks' 1x1 convs built with ``bias=False``, copied from the depthwise conv."""
    net = sepconv_torch.build_model()
    for layer in REFERENCE:
        if layer.kind == "sepconv":
            block = getattr(net, layer.name)
            pw = block.conv_pw
            block.conv_pw = nn.Conv2d(pw.in_channels, pw.out_channels, 1, bias=False)
    keras_init_(net)
    return net


def _ceil_mode_pooling() -> nn.Module:
    """``MaxPool2d(2, ceil_mode=True)``: 7x7 -> 4x4, so dense1 takes 4*4*128 = 2048 features."""
    net = sepconv_torch.build_model()
    for layer in REFERENCE:
        if layer.kind == "maxpool":
            setattr(net, layer.name, nn.MaxPool2d(layer.kernel, ceil_mode=True))
    net.dense1 = nn.Linear(4 * 4 * 128, net.dense1.out_features)
    keras_init_(net)
    return net


def _swapped_depthwise() -> T.Transform:
    # (kh, kw, C, 1) -> (C, 1, kw, kh) and back: consistent both ways, but the kernel is transposed in space
    return T.Transform(
        "depthwise_swapped",
        T.DEPTHWISE.keras_layout,
        "(C, 1, kw, kh)",
        lambda a: np.ascontiguousarray(a.transpose(2, 3, 1, 0)),
        lambda a: np.ascontiguousarray(a.transpose(3, 2, 0, 1)),
    )


def _reshaped_pointwise() -> T.Transform:
    def to_torch(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[3], a.shape[2], 1, 1)  # right shape, wrong order: in/out not swapped

    def to_keras(a: np.ndarray) -> np.ndarray:
        return a.reshape(1, 1, a.shape[1], a.shape[0])

    return T.Transform(
        "pointwise_reshape", T.POINTWISE.keras_layout, T.POINTWISE.torch_layout, to_torch, to_keras
    )


def _wrong_inverse_flatten(h: int, w: int, c: int) -> T.Transform:
    """Right from Keras to PyTorch; back, it re-applies the (h,w,c) -> (c,h,w) permutation again."""
    right = T.flatten_dense(h, w, c)

    def to_keras(a: np.ndarray) -> np.ndarray:
        out = a.shape[0]
        return np.ascontiguousarray(a.T.reshape(h, w, c, out).transpose(2, 0, 1, 3).reshape(h * w * c, out))

    return T.Transform(
        "flatten_dense_wrong_inverse", right.keras_layout, right.torch_layout, right.to_torch, to_keras
    )


_FORWARD = ("forward", "float64_exact", "activations", "gradients", "sgd_step", "trajectory")
_ALL_BUT_COUNTS = (*_FORWARD, "round_trip")
_SELU_TO_ELU = {layer.name: {"activation": "elu"} for layer in REFERENCE if layer.activation == "selu"}
_FIRST_BLOCK_VALID = {name: {"padding": "valid"} for name in ("conv1", "sepconv1", "sepconv2", "sepconv3")}

BROKEN_PORTS: dict[str, BrokenPort] = {
    b.port.name: b
    for b in (
        BrokenPort(
            Port(
                "no_flatten_permutation",
                "dense1's kernel transposed without re-ordering Flatten's (h,w,c) rows",
                transforms=dataclasses.replace(DEFAULT_TRANSFORMS, flatten_dense=lambda h, w, c: T.DENSE),
            ),
            (*_FORWARD, "onnx_vs_keras"),
        ),
        BrokenPort(
            Port(
                "depthwise_axes_swapped",
                "depthwise kernels (kh,kw,C,1) -> (C,1,kw,kh), transposed in space",
                transforms=dataclasses.replace(DEFAULT_TRANSFORMS, depthwise=_swapped_depthwise()),
            ),
            _FORWARD,
        ),
        BrokenPort(
            Port(
                "pointwise_reshape",
                "pointwise kernels reshaped to (out,in,1,1) instead of transposed",
                transforms=dataclasses.replace(DEFAULT_TRANSFORMS, pointwise=_reshaped_pointwise()),
            ),
            _FORWARD,
        ),
        BrokenPort(
            Port(
                "valid_padding",
                "padding='valid' in the first two blocks: 2x2x128 features reach dense1",
                build_torch=_build(_spec_with(**_FIRST_BLOCK_VALID)),
            ),
            ("param_counts", *_ALL_BUT_COUNTS),
        ),
        BrokenPort(
            Port(
                "valid_padding_conv1",
                "conv1 with PyTorch's default padding=0 (still 3x3x128 at the end)",
                build_torch=_build(_spec_with(conv1={"padding": "valid"})),
            ),
            _FORWARD,
        ),
        BrokenPort(
            Port(
                "dropped_bias",
                "the separable blocks' pointwise convs without bias",
                build_torch=_no_pointwise_bias,
            ),
            ("param_counts", *_ALL_BUT_COUNTS),
        ),
        BrokenPort(
            Port(
                "elu_instead_of_selu",
                "ELU where the reference has SELU",
                build_torch=_build(_spec_with(**_SELU_TO_ELU)),
            ),
            _FORWARD,
        ),
        BrokenPort(
            Port(
                "ceil_mode_pooling",
                "MaxPool2d(ceil_mode=True): 7x7 -> 4x4 and a 2048-feature dense1",
                build_torch=_ceil_mode_pooling,
            ),
            ("param_counts", *_ALL_BUT_COUNTS),
        ),
        BrokenPort(
            Port(
                "wrong_inverse",
                "flatten transform whose to_keras repeats to_torch's permutation",
                transforms=dataclasses.replace(DEFAULT_TRANSFORMS, flatten_dense=_wrong_inverse_flatten),
            ),
            ("gradients", "sgd_step", "trajectory", "round_trip"),
        ),
    )
}
