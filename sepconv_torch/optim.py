"""``MuonSGD``: Muon on the network's weight matrices, SGD on the rest (the rule is :mod:`sepconv.muon`)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from sepconv.muon import EPS, GRAM_FORM_RATIO, NS_COEFFICIENTS, NS_STEPS, lr_scale, muon_weights

__all__ = ["MuonSGD", "newton_schulz", "split_parameters"]


def newton_schulz(update: torch.Tensor, steps: int = NS_STEPS, gram_form: bool | None = None) -> torch.Tensor:
    """Approximately semi-orthogonal matrix nearest ``update`` ``(rows, cols)``; same shape and dtype.

    ``gram_form``: run the iteration on ``rows x rows`` matrices (:mod:`sepconv.muon`); ``None`` decides
    by the shape, as the Keras implementation does.
    """
    a, b, c = NS_COEFFICIENTS
    x = update / (torch.linalg.matrix_norm(update) + EPS)
    transposed = x.shape[0] > x.shape[1]
    if transposed:
        x = x.T
    if gram_form is None:
        gram_form = x.shape[1] >= GRAM_FORM_RATIO * x.shape[0]
    if gram_form:
        gram0 = x @ x.T
        gram, m = gram0, None
        for k in range(steps):
            poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b * A + c * A @ A
            poly.diagonal().add_(a)
            m = poly if m is None else poly @ m
            if k + 1 < steps:
                gram = m @ gram0 @ m.T
        x = m @ x
    else:
        for _ in range(steps):
            gram = x @ x.T
            poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b * A + c * A @ A
            x = torch.addmm(x, poly, x, beta=a)  # a * X + poly @ X
    return x.T if transposed else x


def split_parameters(net: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(Muon matrices, the rest)`` of a spec-built network (``sepconv_torch.build_model``)."""
    spec = getattr(net, "spec", None)
    if spec is None:
        raise ValueError(
            f"model.optimizer=muon needs a network built from a layer spec (sepconv_torch.build_model), "
            f"received a {type(net).__name__} without .spec"
        )
    matrices = {f"{layer}.{torch_name}" for layer, (_, torch_name) in muon_weights(spec).items()}
    named = dict(net.named_parameters())
    missing = sorted(matrices - named.keys())
    if missing:
        raise ValueError(f"model.optimizer=muon: the network has no parameter {', '.join(missing)}")
    return [p for n, p in named.items() if n in matrices], [p for n, p in named.items() if n not in matrices]


class MuonSGD(torch.optim.Optimizer):
    """Two parameter groups: ``matrices`` take Muon steps, ``others`` SGD steps (:mod:`sepconv.muon`).

    Args:
        matrices: weights of shape ``(out, ...)``, each flattened to ``(out, fan_in)``.
        others: every other parameter (depthwise kernels, biases).
        lr, momentum, nesterov: the SGD group's, as ``torch.optim.SGD`` (dampening 0).
        muon_lr, muon_momentum: the Muon group's (always Nesterov).

    A scheduler scales each group's ``lr`` (``LambdaLR`` keeps both base rates and one factor).
    """

    def __init__(
        self,
        matrices: Iterable[nn.Parameter],
        others: Iterable[nn.Parameter],
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        muon_lr: float = 0.02,
        muon_momentum: float = 0.95,
    ) -> None:
        matrices, others = list(matrices), list(others)
        for p in matrices:
            if p.ndim < 2:
                raise ValueError(f"MuonSGD: a Muon matrix needs 2 or more dimensions, got {tuple(p.shape)}")
        groups = [
            {"params": matrices, "lr": muon_lr, "momentum": muon_momentum, "nesterov": True, "muon": True},
            {"params": others, "lr": lr, "momentum": momentum, "nesterov": nesterov, "muon": False},
        ]
        super().__init__([g for g in groups if g["params"]], {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[no-untyped-def]  # torch's Optimizer.step signature
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            momentum, lr = group["momentum"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                update = grad
                if momentum:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.clone()
                    else:
                        buf.mul_(momentum).add_(grad)
                    update = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
                if group["muon"]:
                    matrix = update.reshape(len(update), -1)
                    scale = lr_scale(*matrix.shape)
                    p.add_(newton_schulz(matrix).view_as(p), alpha=-lr * scale)
                else:
                    p.add_(update, alpha=-lr)
        return loss
