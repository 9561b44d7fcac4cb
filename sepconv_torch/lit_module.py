"""``SepConvLitModule``: the network, its loss, optimizer, schedule and metrics for the Lightning Trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from sepconv.arch import to_dict
from sepconv.compat import guard_triton
from sepconv.described import check_trainable, read_architecture
from sepconv.init import Initializer
from sepconv.init_file import init_file
from sepconv.recipes import check_value, check_warmup
from sepconv.schedule import Schedule, lr_factor
from sepconv.spec import INPUT_SHAPE
from sepconv_torch.arch import ArchNet, build_torch
from sepconv_torch.arch.fold import fold_batchnorm
from sepconv_torch.host_memory import retain_freed_memory
from sepconv_torch.metrics import BatchMean
from sepconv_torch.model import build_model
from sepconv_torch.optim import MuonSGD, split_parameters
from sepconv_torch.resume import MAX_EPOCHS_KEY
from sepconv_torch.rng import load_states, save_states, seed_rank_stream

__all__ = ["STANDARDISATION_KEY", "SepConvLitModule"]

#: checkpoint entry holding the training data's ``mean`` and ``std``
STANDARDISATION_KEY = "sepconv_standardisation"


def split_described(net: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(Muon matrices, the rest)`` of a described network, by the reference's rule: the kernels of
    ordinary convolutions (``groups == 1``: Conv2D, a separable layer's pointwise part) and of Dense
    layers are matrices; depthwise kernels, biases and BatchNorm parameters take SGD steps."""
    matrices: set[int] = set()
    for module in net.modules():
        if (isinstance(module, nn.Conv2d) and module.groups == 1) or isinstance(module, nn.Linear):
            matrices.add(id(module.weight))
    params = list(net.parameters())
    return [p for p in params if id(p) in matrices], [p for p in params if id(p) not in matrices]


class SepConvLitModule(L.LightningModule):
    """Cross-entropy on logits with SGD; logs ``loss``, ``accuracy``, ``val_*`` and ``test_*`` per epoch.

    Every logged value is a torchmetrics metric (:class:`sepconv_torch.metrics.BatchMean`: the
    sample-weighted mean loss, top-1 accuracy from exact counts), so under DDP the epoch values are
    exact over all ranks' samples, also when the shards differ in size.

    Args:
        net: the network (logits out); ``None`` builds ``architecture``, else the reference network
            (:func:`sepconv_torch.build_model`) with ``initializer``.
        lr: SGD learning rate (the reference: Keras' default 0.01).
        momentum, nesterov: SGD options (the reference: none).
        optimizer: ``sgd`` (the reference) or ``muon``: :class:`sepconv_torch.optim.MuonSGD`, Muon on the
            weight matrices (conv1, the pointwise and dense kernels) with ``muon_lr`` and
            ``muon_momentum``, SGD with ``lr``, ``momentum`` and ``nesterov`` on the rest.
        muon_lr, muon_momentum: the Muon group's learning rate and (Nesterov) momentum.
        schedule: ``constant`` or ``cosine`` (per step, with ``warmup_epochs`` of linear warm-up).
        initializer: ``glorot_uniform`` (Keras' default, the reference) or ``lecun_normal``.
        precise_selu: the correctly rounded SELU instead of TensorFlow's float32 formula (the default;
            see :mod:`sepconv_torch.selu`): about 20 % slower per step, no float32 noise near zero.
        pool_before_activation: apply the activation of a layer that a max pool follows after the pool
            (:class:`sepconv_torch.model.SepConvNet`; the same logits, a quarter of that activation's work);
            ``False`` runs the spec's literal order.
        split_conv_backward: on the CPU, compute each convolution's input, weight and bias gradients in
            three ATen calls instead of oneDNN's one (:mod:`sepconv_torch.conv`; faster here, the same
            gradients up to float32 summation order); ``False`` keeps PyTorch's backward.
        label_smoothing: weight of the uniform distribution mixed into the one-hot targets of every
            loss (training, validation and test, as Keras' compiled loss does); the reference: 0.
        channels_last: run convolutions in NHWC memory format (faster on CPU; same logical model).
        retain_host_memory: in ``setup``, make glibc keep freed memory for the next step instead of
            returning it to the OS (:mod:`sepconv_torch.host_memory`; process-wide, no effect elsewhere).
        fill_uninitialized_memory: in ``setup``, set ``torch.utils.deterministic.fill_uninitialized_memory``
            (process-wide). Under ``deterministic=True`` PyTorch's default ``True`` writes NaN into every
            new tensor before its kernel overwrites it, an extra memory pass per activation; no kernel of
            this network reads memory it has not written, so the results are the same without it.
        eval_chunk_size: on the CPU, without autograd (validation, test, predict), run the network on
            chunks of this many images and concatenate: a chunk's activations stay in cache between
            layers, where a 500-image batch's go to memory and back. The logits are those of the whole
            batch (each image's computation is the same). ``0`` turns it off.
        architecture: a network description (:mod:`sepconv.arch`) to train instead of the reference: a
            YAML file or shipped name (``reference``, ``standard``, ``mobilenet_v1_025_32``), a Keras
            model file (its layers), or the description's ``to_dict`` data, which is what the
            hyper-parameters record (a checkpoint needs no file). Built by
            :func:`sepconv_torch.arch.build_torch`: every kernel (Conv2D, the separable and depthwise
            ones, Dense) drawn by ``initializer`` with Keras' fans, biases zero, BatchNorm as Keras
            (gamma 1, beta 0, moving mean 0, variance 1). ``precise_selu``, ``pool_before_activation``
            and ``split_conv_backward`` are the reference network's options and do not apply.
            ``None``: the reference network. It must have 10 classes.
        init_from_file: start from the weights of the Keras model file ``architecture`` names
            (fine-tuning; :mod:`sepconv_torch.arch.init_file`, BatchNorm moving statistics included),
            copied in :meth:`setup` before the optimizer is made (:meth:`load_init_file`). Refused for
            a YAML description, a shipped name or no architecture (:func:`sepconv.init_file.init_file`).
            Description data (a checkpoint's record) names no file: the weights are the checkpoint's,
            so ``fit --ckpt_path`` neither needs nor reads the file (``Trainer.fit(ckpt_path=...)``
            from Python with a file ``architecture`` reads it, then the checkpoint's weights replace it).
    """

    def __init__(
        self,
        net: nn.Module | None = None,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        optimizer: str = "sgd",
        muon_lr: float = 0.02,
        muon_momentum: float = 0.95,
        schedule: Schedule = "constant",
        warmup_epochs: float = 0.0,
        initializer: Initializer = "glorot_uniform",
        label_smoothing: float = 0.0,
        precise_selu: bool = False,
        pool_before_activation: bool = True,
        split_conv_backward: bool = True,
        channels_last: bool = True,
        retain_host_memory: bool = True,
        fill_uninitialized_memory: bool = False,
        eval_chunk_size: int = 64,
        architecture: str | dict[str, Any] | None = None,
        init_from_file: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (
            ("lr", lr),
            ("momentum", momentum),
            ("nesterov", nesterov),
            ("optimizer", optimizer),
            ("muon_lr", muon_lr),
            ("muon_momentum", muon_momentum),
            ("schedule", schedule),
            ("warmup_epochs", warmup_epochs),
            ("initializer", initializer),
            ("label_smoothing", label_smoothing),
            ("eval_chunk_size", eval_chunk_size),
        ):
            check_value(f"model.{name}", value, label=name)  # the recipes' rules: a RecipeError names it
        self.save_hyperparameters(ignore=["net"])
        self.description = None
        #: the Keras model file whose weights :meth:`load_init_file` copies in (``None``: none, or done)
        self._init_file: Path | None = None
        if init_from_file and not isinstance(architecture, dict):  # data: a checkpoint's record
            self._init_file = init_file(architecture, "model.architecture", "model.init_from_file")
        if architecture is not None:
            source = architecture if isinstance(architecture, str) else "model.architecture"
            self.description = check_trainable(read_architecture(architecture, "model.architecture"), source)
            self.hparams["architecture"] = to_dict(self.description)  # the checkpoint needs no file
        #: the images' ``(H, W, C)``, which the data module presents Fashion-MNIST as
        self.input_shape: tuple[int, int, int] = (
            self.description.input_shape if self.description is not None else INPUT_SHAPE
        )
        # lets Lightning's model summary show input/output shapes and the network's FLOPs
        height, width, channels = self.input_shape
        self.example_input_array = torch.zeros(1, channels, height, width)
        if net is None and self.description is not None:
            net = build_torch(self.description, initializer=initializer)
        elif net is None:
            net = build_model(
                initializer=initializer,
                precise_selu=precise_selu,
                pool_before_activation=pool_before_activation,
                split_conv_backward=split_conv_backward,
            )
        self.net = net
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # two in-place additions per batch each (torchmetrics' MeanMetric and MulticlassAccuracy: ~0.2 ms)
        self.train_loss, self.val_loss, self.test_loss = BatchMean(), BatchMean(), BatchMean()
        self.train_acc, self.val_acc, self.test_acc = (BatchMean(torch.int64) for _ in range(3))
        #: ``(mean, std)`` of the raw training pixels, from a loaded checkpoint (else ``None``)
        self.standardisation: tuple[float, float] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets ``_current_fx_name`` (a hook's name or None) around every hook it calls,
        # about 44 times a training step; ``nn.Module.__setattr__``'s parameter, buffer and submodule
        # checks cost ~3 us each time, and the value is never one of those.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def setup(self, stage: str) -> None:
        if self.hparams.retain_host_memory:
            retain_freed_memory()
        torch.utils.deterministic.fill_uninitialized_memory = self.hparams.fill_uninitialized_memory
        self.load_init_file()

    def load_init_file(self) -> None:
        """With ``init_from_file``: copy the Keras file's weights into the network, once (a no-op after)."""
        if self._init_file is not None:
            from sepconv_torch.arch.init_file import load_keras_file

            load_keras_file(self.net, self._init_file)
            self._init_file = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 10)`` of images ``(N, C, H, W)`` (the reference: ``(N, 1, 28, 28)``)."""
        return self._logits(self.net, x)

    def _logits(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        chunk = self.hparams.eval_chunk_size
        if chunk and len(x) > chunk and x.device.type == "cpu" and not torch.is_grad_enabled():
            return torch.cat([net(part) for part in x.split(chunk)])
        return net(x)

    def _step(
        self,
        batch: tuple[torch.Tensor, torch.Tensor],
        prefix: str,
        mean_loss: BatchMean,
        accuracy: BatchMean,
        register: bool = True,
    ) -> torch.Tensor:
        """Loss of one batch; updates the epoch metrics, and with ``register`` hands them to ``self.log``.

        Lightning computes (and under DDP syncs) a logged metric object at the epoch's end from its
        accumulated state, so registering it once per epoch is enough. ``self.log`` costs about a
        millisecond of Python per call, a tenth of a training step: the training loop registers its
        metrics on the epoch's first batch only.
        """
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
        n = len(y)
        mean_loss.update(loss.detach() * n, n)
        accuracy.update((logits.detach().argmax(dim=-1) == y).sum(), n)
        if register:
            self.log(f"{prefix}loss", mean_loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
            self.log(f"{prefix}accuracy", accuracy, on_step=False, on_epoch=True, prog_bar=True, batch_size=n)
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "", self.train_loss, self.train_acc, register=batch_idx == 0)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val_", self.val_loss, self.val_acc)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test_", self.test_loss, self.test_acc)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the training data's standardisation with the weights (``predict`` on your own images),
        ``trainer.max_epochs``, the length of a cosine schedule (a resume compares it), and for a
        described network the CPU random state and, on a GPU, its CUDA state (one process; under DDP
        rank 0's: :mod:`sepconv_torch.rng`)."""
        splits = getattr(getattr(self.trainer, "datamodule", None), "splits", None)
        stats = (splits.mean, splits.std) if splits is not None else self.standardisation
        if stats is not None:
            checkpoint[STANDARDISATION_KEY] = {"mean": float(stats[0]), "std": float(stats[1])}
        if self.trainer.max_epochs is not None:
            checkpoint[MAX_EPOCHS_KEY] = int(self.trainer.max_epochs)
        if self.description is not None:  # a resume draws the dropout masks an uninterrupted run draws
            save_states(checkpoint, self._training_device())

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        stored = checkpoint.get(STANDARDISATION_KEY)
        if stored is not None:
            self.standardisation = (float(stored["mean"]), float(stored["std"]))
        if self.description is not None:
            load_states(checkpoint, self._training_device())
        saved = (checkpoint.get("hyper_parameters") or {}).get("optimizer", "sgd")
        if saved != self.hparams.optimizer and "optimizer_states" in checkpoint:
            # resumed with another optimizer (``--override``): its state does not fit; start afresh
            checkpoint["optimizer_states"], checkpoint["lr_schedulers"] = [], []

    def _training_device(self) -> torch.device | None:
        """The trainer's device (the module may not be on it yet while a checkpoint loads); None when no
        trainer is attached (``load_from_checkpoint``)."""
        return self._trainer.strategy.root_device if self._trainer is not None else None

    def on_train_start(self) -> None:
        """A fresh fit under DDP: each rank its own random stream (:func:`seed_rank_stream`). After a
        resume, run the restored optimizer and schedule with this module's hyperparameters.

        Lightning restores each parameter group's ``lr``, ``momentum`` and ``nesterov`` from the
        checkpoint; they equal this module's unless a resume overrode them (``--override``), and then
        the module's, which the new checkpoints record, must be the ones that run.
        """
        if self.trainer.ckpt_path is None:
            seed_rank_stream(self.trainer, self)  # under DDP: each rank its own dropout masks
            return
        fresh = self._build_optimizer()
        configs = {id(c.scheduler.optimizer): c.scheduler for c in self.trainer.lr_scheduler_configs}
        for optimizer in self.trainer.optimizers:
            for live, new in zip(optimizer.param_groups, fresh.param_groups, strict=True):
                live.update({k: v for k, v in new.items() if k != "params"})
            scheduler = configs.get(id(optimizer))
            if isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
                scheduler.base_lrs = [group["lr"] for group in optimizer.param_groups]
                scheduler.last_epoch = self.trainer.global_step
                for group, base, factor in zip(
                    optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
                ):
                    group["initial_lr"] = base
                    group["lr"] = base * factor(scheduler.last_epoch)  # LambdaLR's own formula
                scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]

    def on_predict_start(self) -> None:
        """``predict`` runs a described network with its BatchNorms folded into the convolutions
        (:func:`sepconv_torch.arch.fold.fold_batchnorm`: fewer operations, the same function within
        float32 rounding), as the exported files do; ``test`` and ``validate`` report on the network as
        trained. Lightning has put the module in eval mode by now."""
        folded = fold_batchnorm(self.net) if isinstance(self.net, ArchNet) else None
        object.__setattr__(self, "_predict_net", folded)  # not a submodule: no state-dict keys, no summary

    def on_predict_end(self) -> None:
        object.__setattr__(self, "_predict_net", None)

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Class probabilities ``(N, 10)`` (softmax of the logits), as the Keras model outputs."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        net = getattr(self, "_predict_net", None)
        return torch.softmax(self(x) if net is None else self._logits(net, x), dim=-1)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        """SGD, or :class:`MuonSGD` (a description's matrices: :func:`split_described`), with this
        module's hyperparameters."""
        guard_triton()  # the optimizer may import triton; TensorFlow may have been imported since
        hp = self.hparams
        if hp.optimizer == "muon":
            split = split_described if self.description is not None else split_parameters
            return MuonSGD(
                *split(self.net),
                lr=hp.lr,
                momentum=hp.momentum,
                nesterov=hp.nesterov,
                muon_lr=hp.muon_lr,
                muon_momentum=hp.muon_momentum,
            )
        return torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum, nesterov=hp.nesterov)

    def configure_optimizers(self) -> Any:
        hp = self.hparams
        optimizer = self._build_optimizer()
        if hp.schedule == "constant":
            return optimizer
        if self.trainer.max_epochs is not None and self.trainer.max_epochs > 0:
            check_warmup(hp.warmup_epochs, self.trainer.max_epochs)  # --trainer.max_epochs may have moved
        total = int(self.trainer.estimated_stepping_batches)
        steps_per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        warmup = round(hp.warmup_epochs * steps_per_epoch)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, hp.schedule, total, warmup)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
