"""The fast default path (what ``SepConvLitModule()`` trains) is the network the parity suite checks.

The suite's reference port builds :func:`sepconv_torch.build_model`, the builder the LightningModule
uses; these tests pin that the default module carries the fast layers (our in-place SELU,
channels-last, activations after the max pools, the three-call convolution backward, glibc keeping
freed memory)
and that its gradients, taken through the LightningModule's own ``training_step``, equal Keras'
in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import parity
from parity.converter.keras_weights import keras_slots
from parity.converter.torch_weights import torch_slots
from parity.harness.keras_runner import keras_loss_and_grads
from parity.harness.port import REFERENCE_PORT
from sepconv_torch import SepConvLitModule
from sepconv_torch.conv import Conv2d
from sepconv_torch.selu import SELU


def test_default_module_is_the_fast_path() -> None:
    module = SepConvLitModule()
    selus = [a for a in module.net.activations.values() if isinstance(a, SELU)]
    assert len(selus) == 7 and all(a.inplace for a in selus)
    assert not any(isinstance(m, nn.SELU) for m in module.modules())  # no float32 expm1 (selu.py)
    assert module.hparams.retain_host_memory and not module.hparams.fill_uninitialized_memory
    assert module.hparams.channels_last and module.net.conv1.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    convs = [m for m in module.net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 11 and all(isinstance(m, Conv2d) and m.split_backward for m in convs)
    port_net = REFERENCE_PORT.build_torch()
    assert module.net.pool_before_activation and module.net.order == port_net.order
    assert [getattr(m, "split_backward", None) for m in port_net.modules()] == [
        getattr(m, "split_backward", None) for m in module.net.modules()
    ]
    assert [type(m) for m in port_net.modules()] == [type(m) for m in module.net.modules()]
    assert [getattr(m, "inplace", None) for m in port_net.modules()] == [
        getattr(m, "inplace", None) for m in module.net.modules()
    ]


@pytest.mark.slow
def test_training_step_gradients_equal_keras_float64() -> None:
    torch.manual_seed(0)
    module = SepConvLitModule(initializer="lecun_normal_dw").double()
    x = np.random.default_rng(0).standard_normal((16, 1, 28, 28))
    y = np.random.default_rng(1).integers(0, 10, 16)
    keras_model = parity.torch_to_keras(module.net)  # float64, the same weights
    module.train()
    loss = module.training_step((torch.from_numpy(x), torch.from_numpy(y)), batch_idx=1)
    loss.backward()
    rows = parity.build_mapping()
    variables = [s.handle for s in keras_slots(keras_model, rows).slots]
    params = [s.handle for s in torch_slots(module.net, rows).slots]
    k_loss, k_grads = keras_loss_and_grads(keras_model, variables, x.transpose(0, 2, 3, 1), y)
    assert abs(float(loss.detach()) - k_loss) <= 1e-12
    for row, param, k_grad in zip(rows, params, k_grads, strict=True):
        t_grad = row.transform.to_keras(param.grad.numpy())
        scale = float(np.abs(k_grad).max())
        np.testing.assert_allclose(t_grad, k_grad, rtol=0, atol=1e-10 * scale, err_msg=row.torch_key)
