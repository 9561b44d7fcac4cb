"""``eval_chunk_size``: on the CPU without autograd the network runs chunk by chunk, with the same logits."""

from __future__ import annotations

import pytest
import torch

from sepconv.recipes import RecipeError
from sepconv_torch import SepConvLitModule, build_model


def _module(chunk: int) -> tuple[SepConvLitModule, list[int]]:
    """A module with the seed-0 network whose ``net`` records the batch size of every call."""
    module = SepConvLitModule(eval_chunk_size=chunk)
    module.net.load_state_dict(build_model(seed=0).state_dict())
    sizes: list[int] = []
    module.net.register_forward_hook(lambda net, args, out: sizes.append(len(args[0])))
    return module, sizes


@pytest.mark.parametrize(("chunk", "calls"), [(64, [64, 64, 64, 8]), (0, [200]), (256, [200])])
def test_eval_runs_in_chunks_with_the_same_logits(chunk: int, calls: list[int]) -> None:
    x = torch.randn(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    module, sizes = _module(chunk)
    whole, _ = _module(0)
    with torch.inference_mode():
        logits = module(x)
        expected = whole(x)
    assert sizes == calls
    assert logits.shape == (200, 10)
    # each image goes through the same kernels; only oneDNN's choice per batch shape could round apart
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-6)


def test_training_forward_is_never_chunked() -> None:
    module, sizes = _module(64)
    x = torch.randn(200, 1, 28, 28)
    module(x).sum().backward()
    assert sizes == [200]
    assert module.net.conv1.weight.grad is not None


def test_negative_chunk_size_is_refused_by_name() -> None:
    with pytest.raises(RecipeError, match="eval_chunk_size"):
        SepConvLitModule(eval_chunk_size=-1)
