"""Where an exported file came from: the source file, its recipe and its test accuracy, as metadata strings.

=================  =============================================================================
``source_file``    the source weight file's name
``source_sha256``  the SHA-256 of its bytes (hex)
``recipe``         JSON of a Lightning checkpoint's ``hyper_parameters`` (other formats hold none)
``test_accuracy``  from the ``test_metrics.json`` of the source's run, when it tested this file:
                   ``sepconv-torch test`` writes it in the run folder (beside ``checkpoints/``)
                   naming the checkpoint; ``sepconv-keras train`` beside ``best.keras``
                   (``best_test_accuracy``, also for ``fashion_mnist_model.h5``) and
                   ``last.keras`` (``test_accuracy``); a metrics file older than the
                   source is ignored
=================  =============================================================================

Only what is known is recorded; a key is absent otherwise.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["source_metadata"]

#: Keras files of a ``sepconv-keras train`` output folder -> their accuracy in its test_metrics.json
_KERAS_ACCURACY = {
    "best.keras": "best_test_accuracy",
    "fashion_mnist_model.h5": "best_test_accuracy",
    "last.keras": "test_accuracy",
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _metrics(path: Path, src: Path) -> dict[str, Any]:
    """``path``'s JSON object if it was written after ``src`` (else it may describe older weights)."""
    try:
        if path.stat().st_mtime < src.stat().st_mtime:
            return {}
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _hparams(src: Path) -> dict[str, Any] | None:
    if src.suffix.lower() != ".ckpt":
        return None
    import torch

    checkpoint = torch.load(src, map_location="cpu", weights_only=True)  # read once already: it loads
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    return dict(hparams) if isinstance(hparams, dict) else None


def _test_accuracy(src: Path) -> float | None:
    """The accuracy a ``test_metrics.json`` of ``src``'s run records for ``src`` itself, if any."""
    if src.suffix.lower() == ".ckpt":
        folder = src.parent.parent if src.parent.name == "checkpoints" else src.parent
        metrics = _metrics(folder / "test_metrics.json", src)
        # the run folder holds it, so the same name is the same file (a relative ckpt_path too)
        same = Path(str(metrics.get("ckpt_path") or "")).name == src.name
        value = metrics.get("test_accuracy") if same else None
    else:
        key = _KERAS_ACCURACY.get(src.name)
        value = _metrics(src.parent / "test_metrics.json", src).get(key) if key else None
    return float(value) if isinstance(value, int | float) else None


def source_metadata(src: str | Path) -> dict[str, str]:
    """The metadata (see the module docstring) of weights converted from ``src``."""
    src = Path(src)
    meta = {"source_file": src.name, "source_sha256": _sha256(src)}
    hparams = _hparams(src)
    if hparams is not None:
        meta["recipe"] = json.dumps(hparams, sort_keys=True, default=str)
    accuracy = _test_accuracy(src)
    if accuracy is not None:
        meta["test_accuracy"] = repr(accuracy)
    return meta
