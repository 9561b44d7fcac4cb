"""Running a PyTorch network the way the checks compare it: layer by layer, loss from logits, SGD steps.

Inputs arrive as NHWC NumPy arrays (the Keras layout) and are transposed to
NCHW here; outputs of spatial layers are transposed back to NHWC, and the
Flatten output is re-ordered from ``(c, h, w)`` to Keras' ``(h, w, c)``, so
every activation can be compared element for element with Keras'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sepconv.arch.transforms import flatten_permutation
from sepconv.compat import guard_triton
from sepconv.spec import REFERENCE, LayerSpec

__all__ = [
    "fast_input",
    "nchw",
    "one_thread",
    "torch_layer_outputs",
    "torch_loss_and_grads",
    "torch_sgd_stepper",
]


def nchw(x: np.ndarray) -> torch.Tensor:
    """NHWC images ``(N, H, W, C)`` as an NCHW tensor ``(N, C, H, W)`` of the same dtype."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


@contextmanager
def one_thread() -> Iterator[None]:
    """Run PyTorch on one thread for the duration.

    Once TensorFlow is loaded in the process, PyTorch's multi-threaded CPU kernels
    slow down 20-100x (measured, 2 cores: an SGD step of batch 32 takes 0.75 s in
    float32 and 12 s in float64, against 0.03 s and 0.11 s on one thread).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fast_input(net: nn.Module, x: np.ndarray) -> torch.Tensor:
    """NCHW ``x`` for ``net``, both in the memory format PyTorch's CPU kernels are fast with.

    Measured on 2 CPU cores, one SGD step of batch 32: float32 takes 1.2 s in the default
    (contiguous) format and 0.035 s in channels_last; float64 the reverse, 0.16 s and 0.8 s.
    The memory format changes strides only, not the logical tensors.
    """
    t = nchw(x)
    fmt = torch.channels_last if t.dtype == torch.float32 else torch.contiguous_format
    net.to(memory_format=fmt)  # in place: the Parameter objects stay the same
    return t.contiguous(memory_format=fmt)


def _to_keras_layout(t: torch.Tensor, flattened: torch.Tensor | None) -> np.ndarray:
    """NCHW -> NHWC; the output of a Flatten (of the NCHW map ``flattened``) into Keras' feature order."""
    a = t.detach().cpu().numpy()
    if a.ndim == 4:
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
    if flattened is not None and flattened.ndim == 4:
        _, c, h, w = flattened.shape
        if a.shape[1] == c * h * w:
            return np.ascontiguousarray(a[:, flatten_permutation(h, w, c)])
    return np.array(a, copy=True)


@torch.no_grad()
def torch_layer_outputs(
    net: nn.Module, x: np.ndarray, spec: Sequence[LayerSpec] = REFERENCE
) -> dict[str, np.ndarray]:
    """``net.forward_layers`` of NHWC images, each output in Keras' layout (NHWC; the output of the spec's
    ``flatten`` layer in Keras' ``(h, w, c)`` order, by
    :func:`~sepconv.arch.transforms.flatten_permutation`)."""
    if not hasattr(net, "forward_layers"):
        raise TypeError(f"{type(net).__name__} has no forward_layers(x); per-layer checks need a SepConvNet")
    net.eval()
    with one_thread():
        outputs = net.forward_layers(fast_input(net, x))
    converted: dict[str, np.ndarray] = {}
    previous: torch.Tensor | None = None
    flatten = {layer.name for layer in spec if layer.kind == "flatten"}
    for name, value in outputs.items():
        converted[name] = _to_keras_layout(value, previous if name in flatten else None)
        previous = value
    return converted


def torch_loss_and_grads(
    net: nn.Module, params: Sequence[torch.Tensor], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """Mean cross-entropy of the logits and its gradient with respect to each ``params`` entry (PyTorch)."""
    net.train()
    with one_thread():
        loss = F.cross_entropy(net(fast_input(net, x)), torch.from_numpy(y))
        grads = torch.autograd.grad(loss, list(params))
    return float(loss.detach()), [g.detach().cpu().numpy().copy() for g in grads]


def torch_sgd_stepper(net: nn.Module, lr: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """A step of ``torch.optim.SGD(lr)`` on all of ``net``'s parameters; returns the loss before the step."""
    guard_triton()  # building an optimizer may import triton, unsafe once TensorFlow is loaded
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    net.train()

    def step(x: np.ndarray, y: np.ndarray) -> float:
        with one_thread():
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(fast_input(net, x)), torch.from_numpy(y))
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    return step
