"""Making TensorFlow and PyTorch safe to use in one process, whatever was imported first.

TensorFlow >= 2.20 loads its shared library with ``RTLD_GLOBAL``; a later
``import triton`` (which PyTorch's CUDA build pulls in lazily, e.g. when an
optimizer is built or ``torchvision`` is imported) then crashes the process
with SIGSEGV (tensorflow issue 124205). Two remedies, applied by every
sepconv entry point that touches a framework:

* before TensorFlow is imported, import triton first (if installed): loaded
  first, it is unaffected;
* if TensorFlow is already loaded and triton is not, make triton
  unimportable (``sys.modules["triton"] = None``): PyTorch on the CPU,
  optimizers included, runs without it.

This module imports neither framework at import time.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import warnings
from types import ModuleType

__all__ = ["guard_triton", "import_tensorflow"]

#: the start of Keras' notice on every ``model.save`` to ``.h5`` (see :func:`import_tensorflow`)
_LEGACY_H5_NOTICE = "You are saving your model as an HDF5 file"
#: PyTorch's warning when its CUDA start fails (see :func:`import_tensorflow`)
_TORCH_CUDA_AFTER_TF = r"CUDA initialization: Unexpected error from cudaGetDeviceCount\(\)"


def _tensorflow_loaded() -> bool:
    return "tensorflow" in sys.modules or any(m.startswith("tensorflow.") for m in list(sys.modules))


def guard_triton() -> None:
    """Make ``import triton`` safe now: import it if TensorFlow is not loaded yet, else block it."""
    if "triton" in sys.modules:
        return
    if _tensorflow_loaded():
        sys.modules["triton"] = None  # type: ignore[assignment]  # an ImportError for later imports
    elif importlib.util.find_spec("triton") is not None:
        importlib.import_module("triton")


def import_tensorflow(quiet: bool = False) -> ModuleType:
    """Import and return ``tensorflow`` after :func:`guard_triton`, so PyTorch stays usable.

    ``quiet`` (the command-line tools, ``import parity``, ``sepconv_keras.build_model``) drops the
    INFO and WARNING lines TensorFlow's C++ runtime writes to stderr as it loads
    (:mod:`sepconv.native_logs`), lists the GPUs inside the same block (CUDA starts there, so its
    "failed call to cuInit" on a machine without a driver is dropped too), and sets
    ``TF_CPP_MIN_LOG_LEVEL=2`` for its later logging unless the user has set it; it changes nothing
    once TensorFlow is loaded. Where TensorFlow found no CUDA driver, it also silences
    PyTorch's "CUDA initialization: Unexpected error from cudaGetDeviceCount()" warning: TensorFlow's
    failed CUDA start leaves that error behind for PyTorch (without TensorFlow, PyTorch counts 0 GPUs
    silently on such a machine), so it says nothing about this machine that matters. And Keras' notice
    that ``.h5`` is a legacy format is dropped: these tools write ``.h5`` only when asked to by name.
    A user's ``TF_CPP_MIN_LOG_LEVEL=0`` (show TensorFlow's INFO records) turns ``quiet`` off.
    """
    guard_triton()
    if not quiet or "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return importlib.import_module("tensorflow")
    from sepconv.native_logs import drop_native_logs, reports_no_cuda_driver

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with drop_native_logs() as dropped:
        tf = importlib.import_module("tensorflow")
        tf.config.list_physical_devices("GPU")
    if reports_no_cuda_driver(dropped):
        warnings.filterwarnings("ignore", message=_TORCH_CUDA_AFTER_TF, category=UserWarning)
    logging.getLogger("absl").addFilter(_drop_legacy_h5_notice)
    return tf


def _drop_legacy_h5_notice(record: logging.LogRecord) -> bool:
    """A logging filter: ``False`` for Keras' "You are saving your model as an HDF5 file" notice."""
    return not record.getMessage().startswith(_LEGACY_H5_NOTICE)
