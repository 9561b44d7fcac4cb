"""``sepconv_torch.selu.SELU``: TensorFlow's formula or correctly rounded, no float32 ``expm1``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from sepconv.compat import import_tensorflow
from sepconv_torch import SepConvLitModule
from sepconv_torch import selu as selu_module
from sepconv_torch.selu import SELU, selu_


def _ulp(t: torch.Tensor) -> torch.Tensor:
    """float32 spacing at each value of ``t``, as float64."""
    t32 = t.float()
    return (torch.nextafter(t32, torch.full_like(t32, float("inf"))) - t32).double().abs()


@pytest.mark.parametrize("low", [-12, -8, -3])
def test_precise_negative_branch_is_correctly_rounded(low: int) -> None:
    x = (-torch.logspace(low, 1.6, 200_000, dtype=torch.float64)).float()
    exact = F.selu(x.double())  # float64 expm1 on float32 inputs: exact to float32 precision
    assert ((selu_(x.clone(), precise=True).double() - exact).abs() / _ulp(exact)).max() <= 0.5
    # the kernel we replace is less accurate: it rounds expm1 and the products in float32
    assert ((F.selu(x).double() - exact).abs() / _ulp(exact)).max() > 1.0


@pytest.fixture(params=["exp", "exp2"])
def exp_kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of evaluating ``exp(x)`` (the CPU picks one by its capability), whichever this host picks."""
    monkeypatch.setattr(selu_module, "_cpu_prefers_exp2", lambda: request.param == "exp2")
    return request.param


def test_default_negative_branch_is_tensorflows_formula(exp_kernel: str) -> None:
    x = (-torch.logspace(-10, 1.6, 200_000, dtype=torch.float64)).float()
    x = torch.cat([x, torch.linspace(-20, 0, 200_001)])
    ours = selu_(x.clone())
    assert (ours.double() - F.selu(x.double())).abs().max() <= 2.5e-7  # absolute, as documented
    tf = import_tensorflow()
    theirs = torch.from_numpy(tf.nn.selu(tf.constant(x.numpy())).numpy())
    assert (ours - theirs).abs().max() <= 1.2e-7  # exp implementations may differ by an ulp


@pytest.mark.parametrize("precise", [False, True])
def test_float32_positive_branch_is_pytorchs(precise: bool, exp_kernel: str) -> None:
    x = torch.cat([torch.zeros(1), torch.logspace(-12, 1.6, 200_000, dtype=torch.float64).float()])
    assert torch.equal(selu_(x.clone(), precise), F.selu(x))  # scale * x, rounded once in float32


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_dtypes(dtype: torch.dtype) -> None:
    x = torch.randn(4096, dtype=torch.float64) * 3
    ours = SELU()(x.to(dtype))
    assert ours.dtype == dtype
    tol = 1e-15 if dtype == torch.float64 else 1.6e-2  # two bfloat16 roundings: x, then selu(x)
    torch.testing.assert_close(ours.double(), F.selu(x).to(dtype).double(), rtol=tol, atol=tol)


@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("precise", [True, False])
def test_gradcheck_float64(inplace: bool, precise: bool) -> None:
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    # (x * 1) gives the in-place version a non-leaf, as a convolution's output is
    assert torch.autograd.gradcheck(lambda t: SELU(inplace=inplace, precise=precise)(t * 1), (x,))


def test_float32_gradient_is_pytorchs() -> None:
    x = torch.randn(8, 32, 28, 28).contiguous(memory_format=torch.channels_last)
    ours, native = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours, y_native = SELU(inplace=True)(ours * 1), F.selu(native * 1)
    assert y_ours.is_contiguous(memory_format=torch.channels_last)
    grad = torch.randn_like(y_ours)
    y_ours.backward(grad)
    y_native.backward(grad)
    torch.testing.assert_close(y_ours, y_native, rtol=2.4e-7, atol=2.5e-7)
    torch.testing.assert_close(ours.grad, native.grad, rtol=1e-6, atol=1e-6)


def test_out_of_place_keeps_its_input() -> None:
    x = torch.randn(100)
    before = x.clone()
    SELU(inplace=False)(x)
    assert torch.equal(x, before)
    assert SELU(inplace=True)(x) is x


def test_works_under_full_backward_hooks() -> None:
    """A full backward hook hands SELU a view, which a custom in-place Function may not mark dirty."""
    module = SepConvLitModule()
    grads: list[torch.Tensor] = []
    for m in module.net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_full_backward_hook(lambda _m, _gi, go: grads.append(go[0]))
    module(torch.randn(2, 1, 28, 28)).sum().backward()
    assert len(grads) == 11


class _Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, torch.dtype]] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if first is not None:
            self.seen.add((func.overloadpacket.__name__, first.dtype))
        return func(*args, **(kwargs or {}))


def test_default_training_step_uses_no_float32_expm1() -> None:
    """The default path must not rest on float32 ``expm1`` (several times slower on some AVX-512 hosts)."""
    module = SepConvLitModule()
    batch = (torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,)))
    with _Ops() as ops:
        module.training_step(batch, batch_idx=1).backward()
    float32_ops = {name for name, dtype in ops.seen if dtype == torch.float32}
    assert "convolution" in float32_ops  # the mode did see the step
    assert not float32_ops & {"expm1", "expm1_", "elu", "elu_", "selu", "selu_"}
    exp_op = "exp2_" if selu_module._cpu_prefers_exp2() else "exp_"
    assert exp_op in float32_ops


@pytest.mark.parametrize(
    ("capability", "vendor", "exp_op"),
    [
        ("AVX512", "AuthenticAMD", "exp2_"),
        ("AVX2", "AuthenticAMD", "exp2_"),
        ("AVX512", "GenuineIntel", "exp_"),
        ("AVX2", "GenuineIntel", "exp_"),
        ("DEFAULT", "AuthenticAMD", "exp_"),
    ],
)
def test_exp_kernel_follows_cpu(
    capability: str, vendor: str, exp_op: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``exp2`` where ATen vectorises it and the CPU is not Intel's (AMD EPYC: ``exp2`` the faster; Intel
    Xeon: ``exp``); without SIMD the scalar ``exp2`` is slower than ``exp``."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(selu_module, "cpu_vendor", lambda: vendor)
    selu_module._cpu_prefers_exp2.cache_clear()
    try:
        with _Ops() as ops:
            selu_(torch.randn(64))
    finally:
        selu_module._cpu_prefers_exp2.cache_clear()
    assert (exp_op, torch.float32) in ops.seen
    assert ({"exp_", "exp2_"} - {exp_op}).isdisjoint(name for name, _ in ops.seen)


def test_cpu_vendor_reads_proc_cpuinfo() -> None:
    vendor = selu_module.cpu_vendor()
    try:
        with open("/proc/cpuinfo") as info:
            expected = next((line.split(":")[1].strip() for line in info if line.startswith("vendor_id")), "")
    except OSError:
        expected = ""
    assert vendor == expected


@pytest.mark.parametrize(
    "layout", ["contiguous", "channels_last", "strided", "small"], ids=lambda layout: layout
)
def test_large_tensors_go_slice_by_slice_with_the_same_values(
    layout: str, exp_kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above two blocks a CPU tensor is done in L2-sized slices: bit for bit the whole tensor's values,
    in every layout (a strided view is done whole)."""
    torch.manual_seed(0)
    monkeypatch.setattr(selu_module, "BLOCK", 1000)  # small blocks, many slices, a short last one
    x = torch.randn(5, 7, 13, 11) * 3
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "strided":
        x = torch.randn(5, 7, 13, 22)[..., ::2] * 3
    elif layout == "small":
        x = x[:1, :2]  # under two blocks
    calls = []
    whole = selu_module._selu_float32_

    def counted(part: torch.Tensor) -> torch.Tensor:
        calls.append(part.numel())
        return whole(part)

    monkeypatch.setattr(selu_module, "_selu_float32_", counted)
    expected = whole(x.clone())
    got = x.clone() if layout != "strided" else x.clone(memory_format=torch.contiguous_format)
    if layout == "strided":
        got = torch.stack([got, got], -1).flatten(-2)[..., ::2]  # the same values, strided again
        assert not got.is_contiguous()
    assert selu_(got) is got
    assert torch.equal(got, expected)
    sliced = layout in ("contiguous", "channels_last")
    assert calls == ([1000] * 5 + [5 * 7 * 13 * 11 - 5000] if sliced else [x.numel()])
