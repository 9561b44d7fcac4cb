"""Fashion-MNIST presented to a description's input ``(H, W, C)``: the rule, and the same bits in both
frameworks (Keras NHWC arrays, PyTorch NCHW views of that memory)."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from sepconv.arch import description_path
from sepconv.data import FashionMNISTSplits
from sepconv.data.present import area_matrix, as_nchw, present, presentation
from sepconv.described import check_trainable, read_architecture
from sepconv.errors import InputError
from sepconv_torch.data import FashionMNISTDataModule
from sepconv_torch.lit_module import SepConvLitModule

MOBILENET = description_path("mobilenet_v1_025_32")


def _images(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 28, 28, 1)).astype(np.float32)


def test_pad_is_centred_extra_pixel_bottom_right_with_black() -> None:
    x = _images()
    out = present(x, (31, 33, 2), background=-0.5)
    assert out.shape == (3, 31, 33, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    # 31 rows: 1 above, 2 below; 33 columns: 2 left, 3 right
    np.testing.assert_array_equal(out[:, 1:29, 2:30, 0], x[..., 0])
    np.testing.assert_array_equal(out[..., 1], out[..., 0])
    border = np.ones((31, 33), bool)
    border[1:29, 2:30] = False
    assert np.all(out[:, border] == np.float32(-0.5))
    assert (
        presentation((31, 33, 2))
        == "rows padded 1+2 with black, columns padded 2+3 with black, grey repeated to 2 channels"
    )


def test_area_resize_is_the_mean_of_covered_pixels() -> None:
    x = _images()
    half = present(x, (14, 14, 1), background=0.0)
    expected = x[..., 0].astype(np.float64).reshape(3, 14, 2, 14, 2).mean(axis=(2, 4)).astype(np.float32)
    np.testing.assert_array_equal(half[..., 0], expected)
    weights = area_matrix(10)  # 2.8 input pixels per output pixel: fractional coverage
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights[0, :3], [1 / 2.8, 1 / 2.8, 0.8 / 2.8])
    # mixed: rows shrink, columns pad
    mixed = present(x, (20, 30, 1), background=1.0)
    assert mixed.shape == (3, 20, 30, 1) and np.all(mixed[:, :, 0] == 1.0) and np.all(mixed[:, :, -1] == 1.0)


def test_reference_input_is_the_array_itself() -> None:
    x = _images()
    assert present(x, (28, 28, 1), background=0.0) is x
    assert np.shares_memory(as_nchw(x), x) and as_nchw(x).shape == (3, 1, 28, 28)


def test_other_class_counts_are_refused_naming_the_file(tmp_path) -> None:
    text = MOBILENET.read_text().replace("filters: 10, kernel_size: 1", "filters: 7, kernel_size: 1")
    text = text.replace("target_shape: [10]", "target_shape: [7]")
    path = tmp_path / "seven.yaml"
    path.write_text(text)
    arch = read_architecture(str(path))
    assert arch.classes == 7
    with pytest.raises(InputError, match=rf"^{path}: network 'mobilenet_v1_025_32' has 7 classes"):
        check_trainable(arch, str(path))
    with pytest.raises(InputError, match=rf"^{path}: .* 7 classes, Fashion-MNIST has 10"):
        SepConvLitModule(architecture=str(path))


@pytest.mark.realdata
@pytest.mark.slow
def test_padded_three_channel_arrays_are_bit_identical_across_frameworks(splits: FashionMNISTSplits) -> None:
    """The PyTorch data module's tensors, the Keras arrays and their tf.data batches hold the same bits."""
    from sepconv_keras.data import make_dataset, presented_images

    model = SepConvLitModule(architecture=str(MOBILENET))
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    data = FashionMNISTDataModule()
    data.trainer = trainer
    data.setup("fit")
    keras_arrays = presented_images(splits, (32, 32, 3))
    for split, keras_x in zip(("train", "val", "test"), keras_arrays, strict=True):
        torch_x = data.datasets[split].images
        assert torch_x.shape == (len(keras_x), 3, 32, 32) and keras_x.shape == (len(keras_x), 32, 32, 3)
        assert torch_x.is_contiguous(memory_format=torch.channels_last)  # an NCHW view of NHWC memory
        nhwc = torch_x.permute(0, 2, 3, 1).numpy()
        assert nhwc.tobytes() == keras_x.tobytes(), split
    first = next(iter(make_dataset(keras_arrays[2], splits.y_test, 500)))[0].numpy()
    assert first.tobytes() == data.datasets["test"].images[:500].permute(0, 2, 3, 1).numpy().tobytes()
    assert np.all(keras_arrays[2][:, :2] == np.float32(splits.background))  # rows 0-1 are black padding
