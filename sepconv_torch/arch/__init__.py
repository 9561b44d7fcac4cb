"""Any description of the family (:mod:`sepconv.arch`) as a PyTorch module with Keras' numerics.

:func:`build_torch` builds it (:class:`ArchNet`, children named from the Keras layer names);
:mod:`.modules` holds the layers whose arithmetic differs from PyTorch's own; :mod:`.weights` moves
weights between a Keras model and the module through the description's mapping rows.
"""

from __future__ import annotations

from sepconv_torch.arch.net import ArchNet, activation_module, build_torch

__all__ = ["ArchNet", "activation_module", "build_torch"]
