"""SELU without float32 ``expm1``: TensorFlow's formula by default, a correctly rounded one on request.

``selu(x) = scale * x`` for ``x > 0`` and ``scale * alpha * (exp(x) - 1)`` otherwise.

Why not ``torch.nn.SELU``: PyTorch's SELU calls float32 ``expm1``, and on some AMD EPYC hosts the
AVX-512 build of that one kernel is several times slower than its AVX2 build, which made SELU most of a
training step there (README "Performance"). ``exp`` and the float64 kernels have no such cliff.

Numerics (``tests/test_selu.py`` checks each claim), for float32 input:

* default: ``scale * alpha * (exp(x) - 1)`` for ``x <= 0``, evaluated in float32 as TensorFlow's
  float32 SELU does (Keras' reference model). Absolute error below 2.5e-7; the relative error grows
  near zero (1e-2 at ``x = -1e-6``), where ``exp(x) - 1`` cancels. On a CPU with AVX2 or AVX-512
  that is not Intel's, ``exp(x)`` is evaluated as ``exp2(x * log2(e))``: on AMD EPYC ATen's float32
  ``exp`` was half of SELU's time and ``exp2`` far faster. Rounding ``x * log2(e)`` adds a relative
  error of at most ``|x| * 2**-24`` to ``exp(x)``, at most 4e-8 absolute after the product with
  ``scale * alpha``; elsewhere (Intel, where ``exp`` is the faster, CPUs without SIMD, GPUs) it is
  ``exp`` (:func:`_cpu_prefers_exp2`).
* ``precise=True``: ``expm1(x)`` and the product with ``scale * alpha`` in float64, rounded once to
  the input's dtype: correctly rounded (within 0.5 ulp; ``F.selu`` is within 1.6 ulp). In a training
  step it costs about twice the default's memory traffic.

For ``x > 0`` both give ``scale * x`` rounded in the input's dtype, bit for bit ``F.selu``. Other
dtypes (float64; bfloat16 and float16 under autocast) always take the float64 ``expm1`` path.

The backward differentiates from the output, as ``nn.SELU(inplace=True)`` does:
``grad * scale`` where ``out > 0``, ``grad * (out + scale * alpha)`` elsewhere; it needs no ``exp``.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from sepconv_torch.conv import capturing_graph

__all__ = ["ALPHA", "SCALE", "SELU", "selu_"]

#: The constants of Klambauer et al. (2017), as PyTorch and TensorFlow spell them.
ALPHA = 1.6732632423543772848170429916717
SCALE = 1.0507009873554804934193349852946
LOG2E = 1.4426950408889634073599246810019


def cpu_vendor() -> str:
    """The CPU's vendor string (``GenuineIntel``, ``AuthenticAMD``) from ``/proc/cpuinfo``, else ``""``."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return ""


@functools.cache
def _cpu_prefers_exp2() -> bool:
    """Whether float32 ``exp`` is faster as ``exp2(x * log2(e))`` here (read once per process).

    Measured (docs/performance.md, "SELU's exponential"): on AMD EPYC ATen's AVX2/AVX-512 ``exp2`` beat
    its ``exp``; on Intel Xeon ``exp`` beats ``exp2`` even with the multiplication left out; without
    SIMD the scalar ``exp2`` is the slower. A fixed rule, not a timing, so a host always rounds alike.
    """
    vectorised = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
    return vectorised and cpu_vendor() != "GenuineIntel"


def _exp_(neg: torch.Tensor) -> torch.Tensor:
    """``exp`` of float32 ``neg`` (all ``<= 0``) in place, by the faster of ``exp`` and ``exp2`` here."""
    if neg.device.type == "cpu" and _cpu_prefers_exp2():
        return neg.mul_(LOG2E).exp2_()
    return neg.exp_()


#: float32 elements per slice of a large CPU tensor (1 MiB): the slice and its negative part stay in a
#: core's L2 cache across SELU's six passes, instead of six trips to memory for the whole tensor
BLOCK = 1 << 18


def _flat(x: torch.Tensor) -> torch.Tensor | None:
    """``x`` as a 1-D view of its memory (contiguous or channels-last), else ``None``."""
    if x.is_contiguous():
        return x.view(-1)
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).view(-1)
    return None


def _selu_float32_(x: torch.Tensor) -> torch.Tensor:
    # One of the two terms is exactly 0 at every element, so add_'s alpha, fused or not, rounds
    # scale * alpha * (exp(x) - 1) once, as a separate mul_ would, in one memory pass fewer.
    neg = torch.clamp(x, max=0.0)
    return x.clamp_(min=0.0).mul_(SCALE).add_(_exp_(neg).sub_(1.0), alpha=SCALE * ALPHA)


def selu_(x: torch.Tensor, precise: bool = False) -> torch.Tensor:
    """SELU of ``x`` written into ``x`` (any shape or memory format); returns ``x``.

    A float32 CPU tensor of more than two :data:`BLOCK` s is done slice by slice (element-wise, so
    bit for bit the same values)."""
    if precise or x.dtype != torch.float32:  # bfloat16's exp(x) - 1 would cancel to a few bits
        neg = torch.clamp(x, max=0.0)
        wide = neg.to(torch.float64).expm1_().mul_(SCALE * ALPHA)
        # one rounding; a mixed-dtype add_ would take a slow unvectorised path
        return x.clamp_(min=0.0).mul_(SCALE).add_(wide.to(x.dtype))
    # a graph being recorded (ONNX, torch.export, compile) sees one whole-tensor SELU: no size guard
    eager = not capturing_graph() and isinstance(x.numel(), int)
    flat = _flat(x) if eager and x.device.type == "cpu" and x.numel() > 2 * BLOCK else None
    if flat is None:
        return _selu_float32_(x)
    for part in flat.split(BLOCK):
        _selu_float32_(part)
    return x


class _SELUInPlace(torch.autograd.Function):
    """In-place SELU whose backward reads only the output (saved instead of the overwritten input)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, precise: bool) -> torch.Tensor:
        out = selu_(x, precise)
        ctx.mark_dirty(out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (out,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, ALPHA, SCALE, 1.0, True, out), None


class SELU(nn.Module):
    """Drop-in for ``nn.SELU`` without float32 ``expm1`` (see the module docstring for its numerics).

    Any input shape; ``inplace=True`` overwrites the input, which must not be needed by another
    backward (true of a convolution's or linear layer's output) and must not be a leaf that
    requires grad.
    """

    def __init__(self, inplace: bool = False, precise: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
        self.precise = precise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A view cannot be marked dirty by a custom Function (a full backward hook's output is one).
        if not self.inplace or x._is_view():
            x = x.clone()
        if torch.is_grad_enabled() and x.requires_grad:
            return _SELUInPlace.apply(x, self.precise)
        return selu_(x, self.precise)

    def extra_repr(self) -> str:
        return ", ".join(name for name in ("inplace", "precise") if getattr(self, name))
