"""A/B of the Lightning-side levers, in one process, variants interleaved round by round.

Each variant trains ``--steps`` steps of ``SepConvLitModule()`` on ``FashionMNISTDataModule()`` with a fresh
``Trainer`` (deterministic, no logger, no checkpoints, no validation) and reports the median time between
consecutive ``on_train_batch_start`` calls after 30 warm-up steps.

    python benchmarks/lightning_levers.py --rounds 3
    python benchmarks/lightning_levers.py --architecture mobilenet_v1_025_32 --variants default plain-loop

``--architecture NAME|FILE`` trains a described network (``SepConvLitModule(architecture=...)``, its images
presented as it needs) instead of the built-in reference; the variants that swap the reference's SELU or
Flatten modules are refused with it.

Variants: ``default`` (what ``sepconv-torch fit`` does now, its progress bar redrawn every
``PROGRESS_REFRESH`` batches); ``nn-selu`` (PyTorch's ``nn.SELU(inplace=True)``, float32 ``expm1``,
instead of ``sepconv_torch.selu.SELU``); ``precise-selu`` (``SELU(precise=True)``, the correctly
rounded one); ``selu-out-of-place`` (our SELU, not in place); ``log-every-step`` (the training metrics
handed to ``self.log`` at every step, as before); ``not-deterministic`` (``deterministic=False``);
``nan-fill`` (PyTorch's NaN fill of every new tensor under deterministic mode, which the module turns
off by default); ``tqdm-refresh-1`` (Lightning's own default bar, redrawn every batch); ``no-progress-bar``;
``no-train-metrics`` (the training step without its metric updates); ``torchmetrics`` (the training
loss and accuracy as torchmetrics' ``MeanMetric`` and ``MulticlassAccuracy`` instead of
``sepconv_torch.metrics.BatchMean``); ``module-setattr`` (Lightning's ``_current_fx_name`` set
through ``nn.Module.__setattr__``, as without ``SepConvLitModule.__setattr__``); ``nn-flatten`` (PyTorch's
``nn.Flatten``, whose gradient comes back contiguous, instead of ``sepconv_torch.flatten.Flatten``);
``plain-loop`` (no Trainer:
the same module's network and ``DataLoader`` with SGD in a hand-written loop, deterministic algorithms
on, ``setup`` applied: what Lightning itself adds is the difference to ``default``). glibc's malloc
settings are process-wide, so every variant here runs with ``retain_freed_memory()``
(``SepConvLitModule.setup`` applies it); ``benchmarks/step_time.py --paths torch
torch-malloc-default`` measures that lever in two processes.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import types
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import TQDMProgressBar
from torch import nn

from sepconv_torch import FashionMNISTDataModule, SepConvLitModule
from sepconv_torch.cli import PROGRESS_REFRESH
from sepconv_torch.selu import SELU

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "nn-selu": {"selu": "nn"},
    "precise-selu": {"selu": "precise"},
    "selu-out-of-place": {"selu": "out-of-place"},
    "log-every-step": {"log_every_step": True},
    "not-deterministic": {"deterministic": False},
    "nan-fill": {"module": {"fill_uninitialized_memory": True}},
    "tqdm-refresh-1": {"bar": 1},
    "no-progress-bar": {"bar": 0},
    "no-train-metrics": {"train_metrics": False},
    "torchmetrics": {"train_metrics": "torchmetrics"},
    "module-setattr": {"module_setattr": True},
    "nn-flatten": {"nn_flatten": True},
    "plain-loop": {"plain": True},
}


class _StepTimer(L.Callback):
    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, *args: Any) -> None:
        self.starts.append(time.perf_counter())


def _log_every_step(self: SepConvLitModule, batch: Any, batch_idx: int) -> Any:
    return self._step(batch, "", self.train_loss, self.train_acc, register=True)


def _no_train_metrics(self: SepConvLitModule, batch: Any, batch_idx: int) -> Any:
    x, y = batch
    return F.cross_entropy(self(x), y, label_smoothing=self.hparams.label_smoothing)


def _torchmetrics_step(self: SepConvLitModule, batch: Any, batch_idx: int) -> Any:
    x, y = batch
    logits = self(x)
    loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
    self.train_loss.update(loss.detach(), weight=len(y))
    self.train_acc.update(logits.detach(), y)
    if batch_idx == 0:
        self.log("loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        self.log("accuracy", self.train_acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
    return loss


class _ModuleSetattr(SepConvLitModule):
    __setattr__ = nn.Module.__setattr__


def run_plain(steps: int, architecture: str | None = None) -> float:
    """Median ms per step of a hand-written loop over the default module's network and data loader."""
    torch.use_deterministic_algorithms(True)  # as Trainer(deterministic=True) sets it
    module = SepConvLitModule(architecture=architecture)
    module.setup("fit")
    data = FashionMNISTDataModule(download=False)
    data.input_shape = lambda: module.input_shape  # type: ignore[method-assign]  # no trainer attached
    data.setup("fit")
    optimizer = torch.optim.SGD(module.parameters(), lr=module.hparams.lr)
    starts = []
    for _, (x, y) in zip(range(steps), data.train_dataloader(), strict=False):
        starts.append(time.perf_counter())
        loss = F.cross_entropy(module(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    starts.append(time.perf_counter())
    return 1000 * statistics.median(b - a for a, b in itertools.pairwise(starts[30:]))


def run(
    steps: int,
    architecture: str | None = None,
    selu: str = "default",
    log_every_step: bool = False,
    deterministic: bool = True,
    bar: int = PROGRESS_REFRESH,
    train_metrics: bool | str = True,
    plain: bool = False,
    module_setattr: bool = False,
    module: dict[str, Any] | None = None,
    nn_flatten: bool = False,
) -> float:
    """Median ms per training step of one variant."""
    if plain:
        return run_plain(steps, architecture)
    timer = _StepTimer()
    callbacks: list[L.Callback] = [timer]
    if bar:
        callbacks.append(TQDMProgressBar(refresh_rate=bar))
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=bar != 0,
        deterministic=deterministic,
        accelerator="cpu",
        callbacks=callbacks,
    )
    cls = _ModuleSetattr if module_setattr else SepConvLitModule
    lit_module = cls(**(module or {}), architecture=architecture)
    if log_every_step:
        lit_module.training_step = types.MethodType(_log_every_step, lit_module)
    if not train_metrics:
        lit_module.training_step = types.MethodType(_no_train_metrics, lit_module)
    if train_metrics == "torchmetrics":
        from torchmetrics import MeanMetric
        from torchmetrics.classification import MulticlassAccuracy

        lit_module.train_loss = MeanMetric()
        lit_module.train_acc = MulticlassAccuracy(10, average="micro", validate_args=False)
        lit_module.training_step = types.MethodType(_torchmetrics_step, lit_module)
    if nn_flatten:
        lit_module.net.flatten = nn.Flatten()
    if selu != "default":
        for name, act in lit_module.net.activations.items():
            if isinstance(act, SELU):
                lit_module.net.activations[name] = {
                    "nn": nn.SELU(inplace=True),
                    "precise": SELU(inplace=True, precise=True),
                    "out-of-place": SELU(),
                }[selu]
    trainer.fit(lit_module, datamodule=FashionMNISTDataModule(download=False))  # presented as it needs
    return 1000 * statistics.median(b - a for a, b in itertools.pairwise(timer.starts[30:]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=160)
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--architecture", metavar="NAME|FILE", help="a described network instead of the reference")
    args = p.parse_args()
    if args.architecture is not None:
        reference_only = [v for v in args.variants if {"selu", "nn_flatten"} & set(VARIANTS[v])]
        if reference_only:
            p.error(f"--variants {' '.join(reference_only)} change the built-in reference network only")
    results: dict[str, list[float]] = {v: [] for v in args.variants}
    for _ in range(args.rounds):
        for variant in args.variants:
            results[variant].append(run(args.steps, args.architecture, **VARIANTS[variant]))
    base = statistics.median(results[args.variants[0]])
    print(f"network: {args.architecture or 'the built-in reference'}")
    print(f"| variant | ms per step (median of {args.rounds}) | vs {args.variants[0]} |")
    print("|---|---|---|")
    for variant, times in results.items():
        print(f"| {variant} | {statistics.median(times):.2f} | {statistics.median(times) / base:.2f} |")


if __name__ == "__main__":
    main()
