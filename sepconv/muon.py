"""Muon for the weight matrices, SGD for the rest: the rule both frameworks' ``MuonSGD`` follow.

Muon (Jordan et al., 2024, github.com/KellerJordan/Muon) replaces a weight matrix's momentum update
``U`` (``rows x cols``) by the nearest semi-orthogonal matrix, approximated by five Newton-Schulz
iterations on ``X = U / (||U||_F + eps)``::

    A = X @ X.T;  X = a * X + (b * A + c * A @ A) @ X      (a, b, c) = NS_COEFFICIENTS

(run on ``X.T`` when ``rows > cols``, so that ``A`` is the smaller Gram matrix), and steps by
``lr * max(1, rows / cols) ** 0.5`` times it. The iteration pushes every singular value of ``X``
into roughly [0.7, 1.2]; it does not converge to exactly 1, by design.

For a wide matrix (``cols >= GRAM_FORM_RATIO * rows``: dense1's 128 x 1152) both implementations run the
same iteration on ``rows x rows`` matrices only: every ``X_k`` is ``M_k @ X_0``, so with
``A_0 = X_0 @ X_0.T``::

    M_1 = P(A_0);  M_{k+1} = P(M_k @ A_0 @ M_k.T) @ M_k;  X = M_5 @ X_0,   P(A) = a*I + b*A + c*A@A

which is the same polynomial in exact arithmetic, in 2.5x fewer multiply-adds for dense1.

Here a matrix is a weight in PyTorch's layout flattened to ``(fan_out, fan_in)``: ``(out, in * k * k)``
for a convolution, ``(out, in)`` for a dense layer. Keras' kernels ``(k, k, in, out)`` / ``(in, out)``
give the same matrix with its columns permuted, which changes nothing in the result (``X @ X.T`` does not
see the column order). Which weights are matrices is decided per layer kind (:data:`MUON_WEIGHTS`): the
full convolution's kernel, a separable block's pointwise kernel and every dense kernel. The depthwise
kernels (one 3x3 filter per channel) and the biases take plain SGD with the recipe's ``lr``, momentum
and Nesterov flag.

Momentum, both parts, as ``torch.optim.SGD`` does it (the learning rate outside the buffer, so a
schedule scales the whole step)::

    buf = momentum * buf + grad           (buf = grad on the first step)
    update = grad + momentum * buf        (Nesterov; else update = buf)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sepconv.spec import REFERENCE, LayerKind, LayerSpec

__all__ = [
    "EPS",
    "GRAM_FORM_RATIO",
    "MUON_WEIGHTS",
    "NS_COEFFICIENTS",
    "NS_STEPS",
    "lr_scale",
    "muon_weights",
]

#: Newton-Schulz coefficients (a, b, c) of Muon's reference implementation
NS_COEFFICIENTS: tuple[float, float, float] = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
#: added to the Frobenius norm before the update is normalised
EPS = 1e-7
#: the Newton-Schulz iteration runs in Gram form when ``cols >= GRAM_FORM_RATIO * rows`` (after the transpose)
GRAM_FORM_RATIO = 4

#: layer kind -> (Keras weight name, PyTorch parameter name inside the layer) of its Muon matrix
MUON_WEIGHTS: dict[LayerKind, tuple[str, str]] = {
    "conv": ("kernel", "weight"),
    "sepconv": ("pointwise_kernel", "conv_pw.weight"),
    "dense": ("kernel", "weight"),
}


def muon_weights(spec: Sequence[LayerSpec] = REFERENCE) -> dict[str, tuple[str, str]]:
    """``layer name -> (Keras weight name, PyTorch parameter name)`` of every weight Muon updates."""
    return {layer.name: MUON_WEIGHTS[layer.kind] for layer in spec if layer.kind in MUON_WEIGHTS}


def lr_scale(fan_out: int, fan_in: int) -> float:
    """Muon's step multiplier for a ``(fan_out, fan_in)`` matrix: ``max(1, fan_out / fan_in) ** 0.5``."""
    return math.sqrt(max(1.0, fan_out / fan_in))
