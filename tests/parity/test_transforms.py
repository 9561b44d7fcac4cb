"""Transforms are exact inverses; the mapping is generated from the table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from parity.converter.mapping import build_mapping
from sepconv.arch import transforms as T
from sepconv.spec import REFERENCE

SHAPES = {
    "identity": (7,),
    "conv": (3, 3, 2, 5),
    "depthwise": (3, 3, 6, 1),
    "pointwise": (1, 1, 4, 6),
    "dense": (9, 4),
}


@pytest.mark.parametrize(
    "transform",
    [T.IDENTITY, T.CONV, T.DEPTHWISE, T.POINTWISE, T.DENSE, T.flatten_dense(3, 2, 4)],
    ids=lambda t: t.name,
)
def test_round_trip_is_bit_exact(transform: T.Transform) -> None:
    shape = SHAPES.get(transform.name, (24, 5))
    a = np.random.default_rng(0).standard_normal(shape)
    there = transform.to_torch(a)
    assert np.array_equal(transform.to_keras(there), a)
    assert not (there.shape == a.shape and len(shape) > 1 and np.array_equal(there, a))


def test_conv_layouts() -> None:
    k = np.arange(3 * 3 * 2 * 5).reshape(3, 3, 2, 5)
    w = T.CONV.to_torch(k)
    assert w.shape == (5, 2, 3, 3) and w[4, 1, 2, 0] == k[2, 0, 1, 4]
    d = T.DEPTHWISE.to_torch(np.arange(18).reshape(3, 3, 2, 1))
    assert d.shape == (2, 1, 3, 3) and d[1, 0, 2, 0] == np.arange(18).reshape(3, 3, 2, 1)[2, 0, 1, 0]


def test_flatten_dense_matches_both_flatten_orders() -> None:
    h, w, c, out = 3, 2, 4, 5
    rng = np.random.default_rng(1)
    fmap, kernel = rng.standard_normal((h, w, c)), rng.standard_normal((h * w * c, out))
    keras_y = fmap.reshape(-1) @ kernel  # Keras: Flatten of (h, w, c)
    torch_y = T.flatten_dense(h, w, c).to_torch(kernel) @ fmap.transpose(2, 0, 1).reshape(
        -1
    )  # PyTorch: (c, h, w)
    assert np.allclose(keras_y, torch_y, rtol=0, atol=1e-12)
    assert not np.allclose(keras_y, T.DENSE.to_torch(kernel) @ fmap.transpose(2, 0, 1).reshape(-1))


def test_mapping_rows_come_from_the_table() -> None:
    rows = build_mapping()
    assert len(rows) == 2 + 3 * 5 + 2 + 2
    dense1 = next(r for r in rows if r.torch_key == "dense1.weight")
    assert dense1.transform.name == "flatten_dense[h=3,w=3,c=128]" and dense1.keras_shape == (1152, 128)
    assert next(r for r in rows if r.torch_key == "dense2.weight").transform.name == "dense"
    assert sum(np.prod(r.keras_shape) for r in rows) == 184_234
    wider = tuple(dataclasses.replace(s, filters=256) if s.name == "sepconv5" else s for s in REFERENCE)
    changed = {r.torch_key: r for r in build_mapping(wider)}
    assert changed["sepconv5.conv_pw.weight"].torch_shape == (256, 128, 1, 1)
    assert changed["dense1.weight"].transform.name == "flatten_dense[h=3,w=3,c=256]"
