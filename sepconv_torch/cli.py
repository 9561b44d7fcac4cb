"""``sepconv-torch``: LightningCLI over :class:`SepConvLitModule` and :class:`FashionMNISTDataModule`.

Defaults are the reference recipe (10 epochs, batch 32, SGD 0.01); ``--config``
with ``sepconv/recipes/tuned.yaml`` gives the tuned one. Subcommands ``fit``,
``validate``, ``test``, ``predict``; ``--ckpt_path best|last`` also finds the
checkpoints of an earlier ``fit`` run under the same ``--trainer.default_root_dir``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_only

from sepconv_torch.callbacks import LearningCurves, ProbabilityWriter
from sepconv_torch.checkpoints import AtomicCheckpointIO, find_checkpoint
from sepconv_torch.data import FashionMNISTDataModule
from sepconv_torch.lit_module import SepConvLitModule

__all__ = ["SepConvCLI", "cli_main", "make_cli"]


class SepConvCLI(LightningCLI):
    """LightningCLI with the reference callbacks; options ``--checkpoint.*``, ``--early_stopping.*``.

    (Both are ordinary Lightning callbacks; their defaults are the recipe's.)
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val_loss",
                "checkpoint.mode": "min",
                "checkpoint.save_top_k": 1,
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-{epoch:02d}-{val_loss:.4f}",
            }
        )
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults(
            {
                "early_stopping.monitor": "val_loss",
                "early_stopping.patience": 5,
                "early_stopping.min_delta": 1e-3,
            }
        )
        parser.add_lightning_class_args(LearningCurves, "curves")
        parser.add_lightning_class_args(ProbabilityWriter, "predictions")

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The configured trainer; it writes checkpoints atomically unless another checkpoint IO is set."""
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _resolve_ckpt_path(self) -> None:
        config = self.config_init[self.subcommand]
        which = config.get("ckpt_path")
        if which in ("best", "last"):
            callback = self.trainer.checkpoint_callback
            if which == "best" and callback is not None and callback.best_model_path:
                return  # fitted in this process: Lightning knows
            config["ckpt_path"] = str(find_checkpoint(self.trainer.default_root_dir, which))
            rank_zero_only(print)(f"sepconv-torch: ckpt_path={which!r} -> {config['ckpt_path']}")

    def before_fit(self) -> None:
        self._resolve_ckpt_path()

    def before_validate(self) -> None:
        self._resolve_ckpt_path()

    def before_test(self) -> None:
        self._resolve_ckpt_path()

    def before_predict(self) -> None:
        self._resolve_ckpt_path()

    def after_test(self) -> None:
        """Keep the test metrics beside the run: ``<default_root_dir>/test_metrics.json``."""
        if not self.trainer.is_global_zero:
            return
        results = {k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith("test_")}
        results["ckpt_path"] = self.config_init[self.subcommand].get("ckpt_path")
        path = Path(self.trainer.default_root_dir) / "test_metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")


def make_cli(args: list[str] | None = None, run: bool = True) -> SepConvCLI:
    """Build (and with ``run``, execute) the CLI; ``args`` replaces ``sys.argv[1:]``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # tensorboard may import TensorFlow, which is chatty
    return SepConvCLI(
        SepConvLitModule,
        FashionMNISTDataModule,
        seed_everything_default=42,
        trainer_defaults={"max_epochs": 10, "default_root_dir": "runs/torch", "deterministic": True},
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def _keep_tensorflow_out() -> None:
    """Stop TensorBoard's writer from importing TensorFlow in this PyTorch-only process.

    ``tensorboard`` imports all of TensorFlow when it is installed (seconds of
    start-up, ~1 GB of memory, log noise); without it, it writes the same event
    files through its bundled stub.
    """
    sys.modules.setdefault("tensorflow", None)  # type: ignore[arg-type]


def cli_main(args: list[str] | None = None) -> None:
    """Entry point of ``sepconv-torch``."""
    if "tensorflow" not in sys.modules:
        _keep_tensorflow_out()
    make_cli(args)


if __name__ == "__main__":
    cli_main()
