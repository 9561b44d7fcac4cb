"""The PyTorch / Lightning port of the separable CNN."""

from sepconv.compat import guard_triton

guard_triton()  # before anything below can pull triton in (see sepconv.compat)

from sepconv_torch.blocks import SeparableConv2d  # noqa: E402
from sepconv_torch.data import FashionMNISTDataModule  # noqa: E402
from sepconv_torch.lit_module import SepConvLitModule  # noqa: E402
from sepconv_torch.model import SepConvNet, build_model  # noqa: E402

__all__ = ["FashionMNISTDataModule", "SepConvLitModule", "SepConvNet", "SeparableConv2d", "build_model"]
