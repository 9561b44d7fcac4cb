"""sepconv_torch.conv.Conv2d: the separate-call CPU backward gives nn.Conv2d's gradients, where it applies.

Each layer kind of the reference network (conv1: 1 -> 32, 3x3, no input gradient; a depthwise 3x3; a
pointwise 1x1 with bias), a plain 3x3 with an input gradient, and MobileNet's kinds (a stride-2 3x3,
depthwise or not, with and without padding; a depthwise 3x3 whose output is one pixel, whose weight
gradient is the window sum), against ``nn.Conv2d`` with the same weights: the forward bit for bit, the
gradients to 1e-12 (float64) and 1e-5 (float32) of their largest value.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sepconv_torch import SepConvLitModule, build_model
from sepconv_torch.conv import Conv2d, _SplitBackwardConv

#: name -> (in, out, kernel, groups, bias, input gradient, spatial size, stride, padding)
LAYERS = {
    "conv1": (1, 32, 3, 1, True, False, 28, 1, "same"),
    "depthwise": (32, 32, 3, 32, False, True, 14, 1, "same"),
    "pointwise": (32, 64, 1, 1, True, True, 7, 1, "same"),
    "plain 3x3": (4, 6, 3, 1, True, True, 9, 1, "same"),
    "depthwise stride 2 valid": (16, 16, 3, 16, False, True, 17, 2, 0),
    "depthwise stride 2 padded": (8, 8, 3, 8, True, True, 8, 2, 1),
    "stride 2 padded": (3, 8, 3, 1, False, True, 16, 2, 1),
    "stride 2 valid": (4, 6, 3, 1, True, True, 9, 2, 0),
    "depthwise one pixel": (16, 16, 3, 16, False, True, 1, 1, "same"),
    "depthwise one pixel stride 2": (8, 8, 3, 8, False, True, 3, 2, 0),
}
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}
#: gradcheck runs a forward per input element: the network's own (large) layers run in the slow tier
FAST_GRADCHECK = (
    "plain 3x3",
    "stride 2 valid",
    "depthwise stride 2 padded",
    "depthwise one pixel",
    "depthwise one pixel stride 2",
)
GRADCHECK = [n if n in FAST_GRADCHECK else pytest.param(n, marks=pytest.mark.slow) for n in LAYERS]


def _pair(name: str, dtype: torch.dtype, channels_last: bool) -> tuple[Conv2d, nn.Conv2d, torch.Tensor]:
    cin, cout, k, groups, bias, input_grad, size, stride, padding = LAYERS[name]
    torch.manual_seed(0)
    shape = {"stride": stride, "padding": padding, "groups": groups, "bias": bias}
    ours = Conv2d(cin, cout, k, **shape).to(dtype)
    theirs = nn.Conv2d(cin, cout, k, **shape).to(dtype)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(8, cin, size, size, dtype=dtype)
    if channels_last:
        nhwc = torch.channels_last
        ours, theirs = ours.to(memory_format=nhwc), theirs.to(memory_format=nhwc)
        x = x.contiguous(memory_format=torch.channels_last)
    return ours, theirs, x.requires_grad_(input_grad)


def _run(conv: nn.Module, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Output and the gradients (input's if it requires one, then each parameter's) of a fixed loss."""
    x = x.detach().requires_grad_(x.requires_grad)
    out = conv(x)
    (out * target).sum().backward()
    grads = ([x.grad] if x.requires_grad else []) + [p.grad for p in conv.parameters()]
    conv.zero_grad(set_to_none=True)
    return out.detach(), grads


@pytest.mark.parametrize("channels_last", [True, False], ids=["nhwc", "nchw"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_same_forward_and_gradients_as_nn_conv2d(name: str, dtype: torch.dtype, channels_last: bool) -> None:
    ours, theirs, x = _pair(name, dtype, channels_last)
    assert ours.split_backward
    target = torch.randn_like(theirs(x))
    out, grads = _run(ours, x, target)
    assert out.grad_fn is None  # detached copy; the graph node is checked below
    assert type(ours(x).grad_fn).__name__ == "_SplitBackwardConvBackward"
    ref_out, ref_grads = _run(theirs, x, target)
    assert torch.equal(out, ref_out)
    assert len(grads) == len(ref_grads)
    for got, want in zip(grads, ref_grads, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        torch.testing.assert_close(got, want, rtol=0, atol=TOLERANCE[dtype] * want.abs().max().item())


def test_a_wrong_backward_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above fails for a backward that forgets to flip the kernel."""
    ours, theirs, x = _pair("depthwise", torch.float64, True)
    target = torch.randn_like(theirs(x))
    ref_grad = _run(theirs, x, target)[1][0]
    monkeypatch.setattr(torch.Tensor, "flip", lambda self, *dims: self)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(_run(ours, x, target)[1][0], ref_grad, rtol=0, atol=1e-12)


def test_one_pixel_depthwise_takes_the_window_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pixel depthwise case computes its weight gradient without oneDNN's weight backward."""
    calls: list[list[bool]] = []
    real = torch.ops.aten.convolution_backward

    class Spy:
        def __call__(self, *args: object) -> object:
            calls.append(list(args[-1]))  # type: ignore[arg-type]
            return real(*args)

    monkeypatch.setattr(torch.ops.aten, "convolution_backward", Spy())
    ours, _, x = _pair("depthwise one pixel", torch.float64, True)
    ours(x).sum().backward()
    assert ours.weight.grad is not None and [False, True, False] not in calls


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradcheck(name: str) -> None:
    cin, cout, k, groups, bias, _, size, stride, padding = LAYERS[name]
    pad = (k // 2, k // 2) if padding == "same" else (padding, padding)
    stride = (stride, stride)
    torch.manual_seed(0)
    side = min(size, 5) if stride == (1, 1) else size if size <= 3 else 6
    x = torch.randn(2, cin, side, side, dtype=torch.float64, requires_grad=True)
    w = torch.randn(cout, cin // groups, k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True) if bias else None

    def conv(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = b) -> torch.Tensor:
        return _SplitBackwardConv.apply(x, w, bias, stride, pad, groups)

    assert torch.autograd.gradcheck(conv, (x, w))
    if b is not None:
        assert torch.autograd.gradcheck(lambda bias: conv(x, w, bias), (b,))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dilation": 2, "padding": 2},
        {"padding": "same", "padding_mode": "reflect"},
        {"padding": "same", "groups": 2},
        {"padding": "same", "kernel_size": 2},
    ],
    ids=["dilation", "reflect", "groups-2", "even-kernel-same"],
)
def test_other_shapes_keep_pytorchs_path(kwargs: dict) -> None:
    kwargs = {"kernel_size": 3, **kwargs}
    conv = Conv2d(4, 4, **kwargs)
    assert not conv.split_backward
    assert type(conv(torch.randn(1, 4, 8, 8)).grad_fn).__name__ == "ConvolutionBackward0"


def test_no_grad_autocast_and_opt_out_keep_pytorchs_path() -> None:
    conv, x = Conv2d(4, 4, 3, padding="same"), torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert conv(x).grad_fn is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16 and type(out.grad_fn).__name__ == "ConvolutionBackward0"
    assert not Conv2d(4, 4, 3, padding="same", split_backward=False).split_backward
    assert type(conv.double()(x.double()).grad_fn).__name__ == "_SplitBackwardConvBackward"
    assert type(conv(x.double().requires_grad_()).grad_fn).__name__ == "_SplitBackwardConvBackward"


@pytest.mark.parametrize("split", [True, False])
def test_network_and_module_switch(split: bool) -> None:
    for net in (build_model(split_conv_backward=split), SepConvLitModule(split_conv_backward=split).net):
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 11 and all(isinstance(m, Conv2d) and m.split_backward == split for m in convs)
        assert net.split_conv_backward == split
    x, y = torch.randn(2, 1, 28, 28), torch.tensor([1, 2])
    a, b = build_model(seed=0, split_conv_backward=split), build_model(seed=0, split_conv_backward=not split)
    F.cross_entropy(a(x), y).backward()
    F.cross_entropy(b(x), y).backward()
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-5 * q.grad.abs().max().item(), msg=name)
