"""``sepconv-torch``: LightningCLI over :class:`SepConvLitModule` and :class:`FashionMNISTDataModule`.

Defaults are the reference recipe (10 epochs, batch 32, SGD 0.01); ``--config``
with ``sepconv/recipes/tuned.yaml`` gives the tuned one. Subcommands ``fit``,
``validate``, ``test``, ``predict``; ``--ckpt_path best|last`` also finds the
checkpoints of an earlier ``fit`` run under the same ``--trainer.default_root_dir``.

Errors: every ``--config`` file's recipe keys are checked by the shared rules
(:func:`sepconv.recipes.check_lightning_config`), a checkpoint is checked before
Lightning loads it, and :func:`cli_main` prints any error as one line
(:func:`sepconv.errors.run_main`; ``--debug`` shows the traceback). Lightning's
informational log lines go to stdout, so stderr holds only warnings and errors.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from jsonargparse import ArgumentError
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_only

from sepconv.errors import InputError, run_main
from sepconv.paths import check_output_dir
from sepconv.recipes import check_lightning_config
from sepconv_torch.callbacks import LearningCurves, ProbabilityWriter
from sepconv_torch.checkpoints import AtomicCheckpointIO, check_checkpoint, find_checkpoint
from sepconv_torch.data import FashionMNISTDataModule
from sepconv_torch.finite import FiniteGuard
from sepconv_torch.lit_module import SepConvLitModule

__all__ = ["SepConvCLI", "cli_main", "config_files", "make_cli"]

PROG = "sepconv-torch"
#: ckpt_path values Lightning resolves itself (not file paths)
_NAMED_CKPTS = ("best", "last", "hpc", "registry")
#: batches between two redraws of the default progress bar
PROGRESS_REFRESH = 20


def config_files(argv: Sequence[str]) -> list[str]:
    """The values of every ``--config``/``-c`` option in ``argv`` (``--config X`` or ``--config=X``)."""
    files: list[str] = []
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            files.append(argv[i + 1])
        elif arg.startswith("--config="):
            files.append(arg.split("=", 1)[1])
    return files


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
        parser.add_lightning_class_args(FiniteGuard, "finite_guard")

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Check the recipe keys of ``--config`` files, parse as LightningCLI does, check ``--ckpt_path``.

        (Lightning reads the checkpoint's hyperparameters right after parsing: it is checked before that.)
        """
        if args is None or isinstance(args, (list, tuple)):
            for path in config_files(sys.argv[1:] if args is None else args):
                check_lightning_config(path)
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and ckpt_path not in _NAMED_CKPTS:
            check_checkpoint(ckpt_path)
        root = self.config[subcommand].get("trainer", {}).get("default_root_dir") if subcommand else None
        if root:
            check_output_dir(root, "--trainer.default_root_dir")

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The configured trainer; it writes checkpoints atomically unless another checkpoint IO is set.

        Lightning's default progress bar redraws after every batch, which costs about 0.4 ms of a
        10 ms training step here (benchmarks/step_time.py); the default bar of this CLI redraws
        every :data:`PROGRESS_REFRESH` batches. A bar configured in ``--trainer.callbacks`` is kept.
        """
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        bar = trainer.progress_bar_callback
        if type(bar) is TQDMProgressBar and bar.refresh_rate == 1:
            trainer.callbacks[trainer.callbacks.index(bar)] = TQDMProgressBar(refresh_rate=PROGRESS_REFRESH)
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
        if config.get("ckpt_path") and config["ckpt_path"] not in _NAMED_CKPTS:
            check_checkpoint(config["ckpt_path"], self.model)

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
        parser_kwargs={"exit_on_error": False},  # argument errors raise: one line through run_main
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


_INFO_HANDLER = "sepconv-info-to-stdout"


def _info_to_stdout() -> None:
    """Send Lightning's informational log lines (``GPU available``, ``Seed set``) to stdout.

    Lightning logs them to stderr; moved, stderr carries only warnings and the one-line error.
    """
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        if any(h.get_name() == _INFO_HANDLER for h in logger.handlers):
            continue  # done already in this process
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                info = logging.StreamHandler(sys.stdout)
                info.set_name(_INFO_HANDLER)
                info.addFilter(lambda record: record.levelno < logging.WARNING)
                info.setFormatter(handler.formatter)
                handler.setLevel(max(handler.level, logging.WARNING))
                logger.addHandler(info)


def _quiet_library_noise() -> None:
    """Drop two messages that say nothing about the user's run, narrowly, by message and origin.

    Lightning's advertisement for its cloud logger (an info line of ``rank_zero``), and the
    ``FutureWarning`` torch raises when Lightning itself still uses ``LeafSpec``.
    """
    warnings.filterwarnings(
        "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
    )
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(getattr(f, "__name__", "") == "_no_litlogger_tip" for f in rank_zero.filters):
        rank_zero.addFilter(_no_litlogger_tip)


def _no_litlogger_tip(record: logging.LogRecord) -> bool:
    return "litlogger" not in str(record.msg)


def cli_main(args: list[str] | None = None) -> int:
    """Entry point of ``sepconv-torch``: the CLI, with errors as one line (``--debug``: the traceback)."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv
    if debug:  # LightningCLI does not know the option
        argv = [a for a in argv if a != "--debug"]
        if args is None:
            sys.argv[1:] = argv
    if "tensorflow" not in sys.modules:
        _keep_tensorflow_out()
    _info_to_stdout()
    _quiet_library_noise()

    def main() -> None:
        try:
            make_cli(None if args is None else argv)
        except ArgumentError as e:
            raise InputError(f"{' '.join(str(e).split())} (`{PROG} --help` lists the options)") from e

    return run_main(PROG, main, debug=debug or None)


if __name__ == "__main__":
    sys.exit(cli_main())
