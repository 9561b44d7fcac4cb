"""Running a Keras model the way the checks compare it: layer by layer, from logits, one SGD step at a time.

The Keras model ends in ``Dense(10, softmax)`` while the PyTorch network
returns logits. Every comparison here uses the *logits* on both sides: the last
layer's pre-activation ``h @ kernel + bias``, and the loss
``sparse_categorical_crossentropy(y, logits, from_logits=True)`` averaged over
the batch, which is what ``torch.nn.functional.cross_entropy`` computes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from parity.converter.keras_weights import keras_layers
from sepconv.compat import import_tensorflow

tf = import_tensorflow()

__all__ = ["keras_layer_outputs", "keras_logits", "keras_loss_and_grads", "keras_sgd_stepper"]


def _pre_activation(layer: keras.layers.Layer, h: Any) -> Any:
    """The last Dense layer without its activation (softmax): the logits."""
    if not isinstance(layer, keras.layers.Dense):
        raise TypeError(
            f"Keras layer {layer.name!r}: the last layer must be a Dense, found {type(layer).__name__}"
        )
    return keras.ops.add(keras.ops.matmul(h, layer.kernel), layer.bias)


def keras_layer_outputs(model: keras.Model, x: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Each layer's output (after its activation; logits for the last), NHWC, keyed by the spec's ``names``.

    Layers are matched to ``names`` by position, so automatically named models work too.
    """
    layers = keras_layers(model)
    if len(layers) != len(names):
        raise ValueError(f"the Keras model has {len(layers)} layers, the spec {len(names)}: {list(names)}")
    outputs: dict[str, np.ndarray] = {}
    h: Any = x
    for i, (layer, name) in enumerate(zip(layers, names, strict=False)):
        h = _pre_activation(layer, h) if i == len(layers) - 1 else layer(h)
        outputs[name] = np.asarray(keras.ops.convert_to_numpy(h))
    return outputs


def keras_logits(model: keras.Model, x: Any) -> Any:
    """Logits ``(N, 10)`` of NHWC images ``(N, 28, 28, 1)``, as a backend tensor."""
    layers = keras_layers(model)
    h = x
    for layer in layers[:-1]:
        h = layer(h)
    return _pre_activation(layers[-1], h)


def _loss(model: keras.Model, x: Any, y: Any) -> Any:
    logits = keras_logits(model, x)
    return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def keras_loss_and_grads(
    model: keras.Model, variables: Sequence[Any], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    """Mean cross-entropy from logits and its gradient with respect to each of ``variables`` (Keras)."""
    with tf.GradientTape() as tape:
        loss = _loss(model, tf.constant(x), tf.constant(y))
    grads = tape.gradient(loss, list(variables))
    return float(loss.numpy()), [np.asarray(g.numpy()) for g in grads]


def keras_sgd_stepper(
    model: keras.Model, variables: Sequence[Any], lr: float
) -> Callable[[np.ndarray, np.ndarray], float]:
    """A compiled step ``w <- w - lr * grad`` on ``variables``, returning the loss before the step.

    ``lr`` is a constant of each weight's own dtype. (``keras.optimizers.SGD`` keeps
    its learning rate in a float32 variable and casts it, so in float64 it would
    step with 0.009999999776... instead of 0.01; in float32 both are the same.)
    """
    variables = list(variables)
    rates = [tf.constant(lr, dtype=v.dtype) for v in variables]

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = _loss(model, x, y)
        grads = tape.gradient(loss, variables)
        for v, g, rate in zip(variables, grads, rates, strict=False):
            v.assign(v - rate * g)
        return loss

    return lambda x, y: float(step(tf.constant(x), tf.constant(y)).numpy())
