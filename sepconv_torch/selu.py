"""SELU with its negative branch computed in float64, never through float32 ``expm1``.

``selu(x) = scale * x`` for ``x > 0`` and ``scale * alpha * (exp(x) - 1)`` otherwise.

Why not ``torch.nn.SELU``: PyTorch's SELU calls float32 ``expm1``, and on some AMD EPYC hosts the
AVX-512 build of that one kernel is 8-15x slower than its AVX2 build, which made SELU most of a
training step there (README "Performance"). The float64 kernels have no such cliff.

Numerics, for float32 (and bfloat16/float16) input: for ``x <= 0``, ``expm1(x)`` and the product
with ``scale * alpha`` are evaluated in float64 and rounded once to the input's dtype, so the result
is correctly rounded (within 0.5 ulp; ``F.selu`` is within 1.6 ulp, TensorFlow's float32
``exp(x) - 1`` has relative error 1e-2 at ``x = -1e-6``); for ``x > 0`` it is ``scale * x`` rounded
in the input's dtype, bit for bit ``F.selu``'s. ``tests/test_selu.py`` checks both. float64 input
is computed the same way.

The backward differentiates from the output, as ``nn.SELU(inplace=True)`` does:
``grad * scale`` where ``out > 0``, ``grad * (out + scale * alpha)`` elsewhere; it needs no ``exp``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ALPHA", "SCALE", "SELU", "selu_"]

#: The constants of Klambauer et al. (2017), as PyTorch and TensorFlow spell them.
ALPHA = 1.6732632423543772848170429916717
SCALE = 1.0507009873554804934193349852946


def _negative_branch(x: torch.Tensor) -> torch.Tensor:
    """``scale * alpha * (exp(min(x, 0)) - 1)`` in ``x``'s dtype and layout (zero where ``x > 0``)."""
    wide = torch.clamp(x, max=0.0).to(torch.float64).expm1_().mul_(SCALE * ALPHA)
    return wide.to(x.dtype)  # one rounding; a mixed-dtype add_ would take a slow unvectorised path


def selu_(x: torch.Tensor) -> torch.Tensor:
    """SELU of ``x`` written into ``x`` (any shape or memory format); returns ``x``."""
    neg = _negative_branch(x)
    # Where x > 0 neg is exactly 0, elsewhere the clamp makes scale * x exactly 0: no extra rounding.
    return x.clamp_(min=0.0).mul_(SCALE).add_(neg)


class _SELUInPlace(torch.autograd.Function):
    """In-place SELU whose backward reads only the output (saved instead of the overwritten input)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        out = selu_(x)
        ctx.mark_dirty(out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, ALPHA, SCALE, 1.0, True, out)


class SELU(nn.Module):
    """Drop-in for ``nn.SELU`` without ``expm1`` (see the module docstring for its numerics).

    Any input shape; ``inplace=True`` overwrites the input, which must not be needed by another
    backward (true of a convolution's or linear layer's output) and must not be a leaf that
    requires grad.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A view cannot be marked dirty by a custom Function (a full backward hook's output is one).
        if not self.inplace or x._is_view():
            x = x.clone()
        if torch.is_grad_enabled() and x.requires_grad:
            return _SELUInPlace.apply(x)
        return selu_(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
