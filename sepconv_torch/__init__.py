"""The PyTorch / Lightning port of the separable CNN."""

from sepconv.compat import guard_triton

guard_triton()  # before anything below can pull triton in (see sepconv.compat)

from sepconv_torch.blocks import SeparableConv2d
from sepconv_torch.data import FashionMNISTDataModule
from sepconv_torch.lit_module import SepConvLitModule
from sepconv_torch.model import SepConvNet, build_model

__all__ = ["FashionMNISTDataModule", "SepConvLitModule", "SepConvNet", "SeparableConv2d", "build_model"]
