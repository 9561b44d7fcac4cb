"""Deployment formats, written from the PyTorch network and kept only once verified.

==========  ==================================================================
``.onnx``   ONNX (``torch.onnx.export(dynamo=True)``): input ``images``
            ``(N, 1, 28, 28)`` float32, standardised as in training, dynamic
            batch; outputs ``logits`` and ``probabilities`` ``(N, 10)``;
            metadata ``class_names`` (JSON), ``mean`` and ``std`` (of the raw
            0-255 pixels, ``x = (pixel - mean) / std``), ``input``, and where
            the weights came from (:mod:`.provenance`: ``source_file``,
            ``source_sha256``, ``recipe``, ``test_accuracy``)
``.pt2``    a ``torch.export`` ExportedProgram with the same input and outputs;
            where the weights came from as JSON in its extra file
            :data:`PT2_METADATA`
==========  ==================================================================

A described network (:class:`sepconv_torch.arch.ArchNet`) is exported with each
BatchNorm that directly follows a linear convolution folded into it
(:func:`sepconv_torch.arch.fold.fold_batchnorm`): fewer operations, the same
function within float32 rounding.

:func:`read_metadata` reads either back as a dict of strings.

A file is kept only after its runtime (ONNX Runtime for ``.onnx``, the
ExportedProgram itself for ``.pt2``) has run it on real test images and matched
the PyTorch network within :data:`PROBABILITY_TOL` (probabilities) with the
same argmax (where two classes' probabilities are within that tolerance, either counts: a
tie); otherwise :class:`~parity.converter.errors.WeightFileError` and
nothing is written (the writer runs on a temporary file). Export-only: these
files are not read back as weight sources.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from parity.converter.errors import WeightFileError
from sepconv.classes import CLASS_NAMES

__all__ = [
    "FORMATS",
    "PROBABILITY_TOL",
    "PT2_METADATA",
    "DeployedNet",
    "export_onnx",
    "export_pt2",
    "read_metadata",
    "verify_images",
]

#: max |Δ probability| between the exported file's runtime and the PyTorch network
PROBABILITY_TOL = 1e-5
#: images of the test split the verification runs
VERIFY_IMAGES = 256
#: the extra file of a ``.pt2`` holding its metadata (JSON object of strings)
PT2_METADATA = "sepconv_metadata.json"


class DeployedNet(nn.Module):
    """``images (N, 1, 28, 28) -> (logits, probabilities)``, both ``(N, 10)``, in float32 and NCHW."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(images)
        return logits, torch.softmax(logits, dim=-1)


def _network(model: Any) -> nn.Module:
    from parity.converter.torch_weights import network_of

    net = network_of(model)
    # a plain float32, contiguous-format copy: exported graphs carry no channels-last strides
    return DeployedNet(net).float().to(memory_format=torch.contiguous_format).eval()


def verify_images() -> tuple[np.ndarray, dict[str, float]]:
    """The first :data:`VERIFY_IMAGES` standardised test images ``(N, 1, 28, 28)`` and the statistics."""
    from sepconv.data import load_splits

    splits = load_splits(download=False)
    images = np.ascontiguousarray(splits.images("test", "NCHW")[:VERIFY_IMAGES])
    return images, {"mean": float(splits.mean), "std": float(splits.std)}


def argmax_disagreements(expected: np.ndarray, found: np.ndarray, tie: float) -> int:
    """Rows ``(N, classes)`` of probabilities whose argmax differs, not counting ties: where ``found``'s
    class is within ``tie`` of ``expected``'s top probability, either class is the expected answer at that
    precision (a barely trained network's near-uniform probabilities differ in their last bits). The
    deployment check and the parity suite's forward and ONNX rows use it."""
    picked = np.take_along_axis(expected, found.argmax(-1)[:, None], axis=-1)[:, 0]
    return int(np.sum(picked < expected.max(-1) - tie))


def _compare(path: Path, expected: torch.Tensor, found: np.ndarray, runtime: str) -> None:
    # "test images" below: the test split's, or for a description's network seeded N(0, 1) ones
    diff = float(np.max(np.abs(found - expected.numpy())))
    disagree = argmax_disagreements(expected.numpy(), found, PROBABILITY_TOL)
    if not (diff <= PROBABILITY_TOL and disagree == 0):
        raise WeightFileError(
            f"{path}: {runtime} disagrees with the PyTorch network on {len(found)} test images: "
            f"max|Δ probability| {diff:.2e} (allowed {PROBABILITY_TOL:.0e}), "
            f"{disagree} other argmax (ties within {PROBABILITY_TOL:.0e} aside); not written"
        )


@contextlib.contextmanager
def _quiet() -> Any:
    """The exporter prints progress and emits warnings that say nothing about this network."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _description_images(description: Any) -> np.ndarray:
    """Seeded N(0, 1) images ``(N, C, H, W)`` of a description's input shape (any network of the family:
    its data are not known here)."""
    h, w, c = description.input_shape
    rng = np.random.default_rng(0)
    return rng.normal(0.0, 1.0, (VERIFY_IMAGES, c, h, w)).astype(np.float32)


def _prepare(model: Any) -> tuple[DeployedNet, np.ndarray, dict[str, float] | None, torch.Tensor]:
    """The network to export, the verification images, their statistics (``None`` for a network of a
    description, verified on random images of its shape), and the expected probabilities.

    A described network is exported with its BatchNorms folded into the convolutions before them
    (:func:`sepconv_torch.arch.fold.fold_batchnorm`); the expected probabilities are the unfolded
    network's, so the verification covers the fold too."""
    from sepconv_torch.arch import ArchNet
    from sepconv_torch.arch.fold import fold_batchnorm

    deployed = _network(model)
    description = getattr(deployed.net, "description", None)
    if description is not None:
        images, stats = _description_images(description), None
    else:
        images, stats = verify_images()
    with torch.no_grad():
        expected = deployed(torch.from_numpy(images))[1]
    if isinstance(deployed.net, ArchNet):
        deployed = DeployedNet(fold_batchnorm(deployed.net)).eval()
    return deployed, images, stats, expected


#: the batch dimension of ``images`` stays free in every export
_DYNAMIC_BATCH = ({0: torch.export.Dim("batch", min=1)},)


def export_onnx(model: Any, path: Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``model`` (a network, LightningModule or state-dict-loaded network) as ONNX at ``path``,
    with ``metadata`` (where the weights came from) among its ``metadata_props``."""
    import onnx
    import onnxruntime

    deployed, images, stats, expected = _prepare(model)
    with _quiet():
        program = torch.onnx.export(
            deployed,
            (torch.from_numpy(images[:2]),),
            dynamo=True,
            input_names=["images"],
            output_names=["logits", "probabilities"],
            dynamic_shapes=_DYNAMIC_BATCH,
        )
    proto = program.model_proto
    if stats is None:
        from sepconv.arch import to_dict

        description = deployed.net.description
        h, w, c = description.input_shape
        meta = {
            "sepconv.architecture": json.dumps(to_dict(description)),
            "input": f"images: (N, {c}, {h}, {w}) float32, prepared as the network was trained",
        }
    else:
        meta = {
            "class_names": json.dumps(list(CLASS_NAMES)),
            "mean": repr(stats["mean"]),
            "std": repr(stats["std"]),
            "input": "images: (N, 1, 28, 28) float32, (pixel - mean) / std, garment bright on a dark "
            "background",
        }
    meta.update(metadata or {})
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    found = session.run(["probabilities"], {"images": images})[0]
    _compare(path, expected, found, "ONNX Runtime")


def export_pt2(model: Any, path: Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``model`` as a ``torch.export`` ExportedProgram (``.pt2``) at ``path``, with ``metadata`` as
    JSON in its extra file :data:`PT2_METADATA`."""
    deployed, images, _, expected = _prepare(model)
    with _quiet():
        program = torch.export.export(
            deployed, (torch.from_numpy(images[:2]),), dynamic_shapes=_DYNAMIC_BATCH
        )
    torch.export.save(program, str(path), extra_files={PT2_METADATA: json.dumps(dict(metadata or {}))})
    loaded = torch.export.load(str(path)).module()
    with torch.no_grad():
        found = loaded(torch.from_numpy(images))[1].numpy()
    _compare(path, expected, found, "the saved ExportedProgram")


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of an exported ``.onnx`` (its ``metadata_props``) or ``.pt2`` (:data:`PT2_METADATA`)."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        import onnx

        return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    extra = {PT2_METADATA: ""}
    torch.export.load(str(path), extra_files=extra)
    return json.loads(extra[PT2_METADATA] or "{}")


def _export_only(path: Path) -> Any:
    raise WeightFileError(f"{path}: {path.suffix} files are exported, not read; convert from the source file")


def _formats() -> tuple[Any, ...]:
    from parity.converter.files import WeightFormat

    return (
        WeightFormat(
            ".onnx",
            "torch",
            "ONNX model (export only), verified with ONNX Runtime",
            _export_only,
            export_onnx,
            records_metadata=True,
        ),
        WeightFormat(
            ".pt2",
            "torch",
            "torch.export ExportedProgram (export only), verified",
            _export_only,
            export_pt2,
            records_metadata=True,
        ),
    )


FORMATS = _formats()
