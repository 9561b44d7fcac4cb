"""``MuonSGD`` for Keras: Muon on the weight matrices, SGD on the rest, as ``sepconv_torch.optim.MuonSGD``.

The rule (which weights, the Newton-Schulz iteration, the momentum form) is :mod:`sepconv.muon`; this is
its Keras implementation, tested against the PyTorch one step for step.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from sepconv.muon import EPS, GRAM_FORM_RATIO, NS_COEFFICIENTS, NS_STEPS, lr_scale, muon_weights
from sepconv.recipes import Recipe
from sepconv.spec import REFERENCE

__all__ = ["MuonSGD", "make_optimizer", "newton_schulz"]


def newton_schulz(update: Any, steps: int = NS_STEPS) -> Any:
    """Approximately semi-orthogonal matrix nearest ``update`` ``(rows, cols)`` (static shape); the Gram
    form for wide matrices, as ``sepconv_torch.optim.newton_schulz`` decides it."""
    a, b, c = NS_COEFFICIENTS
    x = update / (ops.sqrt(ops.sum(ops.square(update))) + EPS)
    transposed = update.shape[0] > update.shape[1]
    if transposed:
        x = ops.transpose(x)
    if x.shape[1] >= GRAM_FORM_RATIO * x.shape[0]:
        gram0 = ops.matmul(x, ops.transpose(x))
        eye = ops.eye(x.shape[0], dtype=x.dtype)
        gram, m = gram0, None
        for k in range(steps):
            poly = a * eye + b * gram + c * ops.matmul(gram, gram)
            m = poly if m is None else ops.matmul(poly, m)
            if k + 1 < steps:
                gram = ops.matmul(ops.matmul(m, gram0), ops.transpose(m))
        x = ops.matmul(m, x)
    else:
        for _ in range(steps):
            gram = ops.matmul(x, ops.transpose(x))
            poly = b * gram + c * ops.matmul(gram, gram)
            x = a * x + ops.matmul(poly, x)
    return ops.transpose(x) if transposed else x


@keras.saving.register_keras_serializable(package="sepconv")
class MuonSGD(keras.optimizers.Optimizer):
    """Muon on the Muon weights of the reference layers (:func:`sepconv.muon.muon_weights`), SGD elsewhere.

    A weight is a Muon matrix when its path ends in ``<layer>/<weight>`` of that table, e.g.
    ``sepconv1/pointwise_kernel``. Its kernel ``(..., in, out)`` is flattened to ``(in', out)`` and
    transposed, PyTorch's ``(out, fan_in)`` up to a column permutation.

    Args:
        learning_rate: the SGD group's rate (float or schedule).
        momentum, nesterov: the SGD group's, in PyTorch's form (``sepconv.muon``), not Keras' ``SGD``'s.
        muon_lr_ratio: the Muon group's rate over ``learning_rate`` (the recipe's ``muon_lr / lr``), so
            that one schedule scales both.
        muon_momentum: the Muon group's (Nesterov) momentum.
        matrices: ``layer/weight`` names of the weights that take Muon steps (a described network's:
            :func:`sepconv.described.muon_matrices`); ``None``: the reference network's.
    """

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        muon_lr_ratio: float = 2.0,
        muon_momentum: float = 0.95,
        name: str = "muon_sgd",
        matrices: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum
        self.nesterov = nesterov
        self.muon_lr_ratio = muon_lr_ratio
        self.muon_momentum = muon_momentum
        self.matrices = matrices
        reference = (f"{layer}/{weight}" for layer, (weight, _) in muon_weights(REFERENCE).items())
        self._matrix_suffixes = tuple(matrices if matrices is not None else reference)

    def is_matrix(self, variable: Any) -> bool:
        """Whether ``variable`` takes Muon steps."""
        return variable.path.endswith(self._matrix_suffixes) and len(variable.shape) >= 2

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)
        self.momentums = [
            self.add_variable_from_reference(reference_variable=v, name="momentum") for v in var_list
        ]
        # by index: update_step may see the backend's variable, which has no Keras path
        self._matrices = [self.is_matrix(v) for v in var_list]

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        matrix = self._matrices[index]
        if matrix:
            momentum, nesterov = self.muon_momentum, True
            lr = lr * self.muon_lr_ratio
        else:
            momentum, nesterov = self.momentum, self.nesterov
        update = gradient
        if momentum:
            buf = self.momentums[index]
            # torch's first step sets buf = grad; buf starts at 0, so momentum * 0 + grad is the same
            self.assign(buf, ops.add(ops.multiply(buf, momentum), gradient))
            update = ops.add(gradient, ops.multiply(buf, momentum)) if nesterov else buf
        if matrix:
            out = variable.shape[-1]
            flat = ops.transpose(ops.reshape(update, (-1, out)))  # (out, fan_in)
            scale = lr_scale(*flat.shape)
            step = ops.reshape(ops.transpose(newton_schulz(flat)), variable.shape)
            self.assign_sub(variable, ops.multiply(step, lr * scale))
        else:
            self.assign_sub(variable, ops.multiply(update, lr))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            momentum=self.momentum,
            nesterov=self.nesterov,
            muon_lr_ratio=self.muon_lr_ratio,
            muon_momentum=self.muon_momentum,
            matrices=self.matrices,
        )
        return config


def make_optimizer(
    recipe: Recipe,
    schedule: float | keras.optimizers.schedules.LearningRateSchedule,
    matrices: list[str] | None = None,
) -> keras.optimizers.Optimizer:
    """The recipe's optimizer: Keras' ``SGD``, or :class:`MuonSGD` for ``model.optimizer: muon`` (on
    ``matrices``, ``None``: the reference network's)."""
    if recipe.optimizer == "muon":
        return MuonSGD(
            schedule,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            muon_lr_ratio=recipe.muon_lr / recipe.lr,
            muon_momentum=recipe.muon_momentum,
            matrices=matrices,
        )
    return keras.optimizers.SGD(schedule, momentum=recipe.momentum, nesterov=recipe.nesterov)
