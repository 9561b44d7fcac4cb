"""``sepconv-torch``: LightningCLI over :class:`SepConvLitModule` and :class:`FashionMNISTDataModule`.

Defaults are the reference recipe (10 epochs, batch 32, SGD 0.01); ``--config``
with ``sepconv/recipes/tuned.yaml`` gives the tuned one. Subcommands ``fit``,
``validate``, ``test``, ``predict``; ``--ckpt_path best|last`` also finds the
checkpoints of an earlier ``fit`` run under the same ``--trainer.default_root_dir``.

Where each command writes (and prints that it did):

* ``fit``: a run folder ``<default_root_dir>/lightning_logs/version_N`` holding ``checkpoints/``
  (``best-epoch=NN-val_loss=X.ckpt``, epochs counted from 1, and ``last.ckpt``), ``metrics.csv``,
  ``learning_curves.png``, ``config.yaml`` and the TensorBoard events. ``fit --ckpt_path`` continues
  in the checkpoint's own run folder, keeping its best checkpoint unless a later epoch beats it.
  Recipe options that differ from the checkpoint's (:mod:`sepconv_torch.resume`) are refused, each
  named, unless ``--override`` is given.
* ``test``: ``test_metrics.json`` in the run folder of the tested checkpoint (beside its
  ``checkpoints/``; for a checkpoint outside a run folder, beside the file).
* ``predict``: ``predictions.npy`` and ``predictions.csv`` in ``--predictions.output_dir``
  (default ``--trainer.default_root_dir``).
* ``test``, ``validate`` and ``predict`` log nothing to TensorBoard and make no ``version_N`` unless
  ``--trainer.logger`` is given.

SIGTERM and Ctrl-C stop a ``fit`` with status 143 / 130 and one line naming the kept ``last.ckpt``
and the command that resumes it (:mod:`sepconv_torch.signals`).

Errors: every ``--config`` file's recipe keys are checked by the shared rules
(:func:`sepconv.recipes.check_lightning_config`), a checkpoint is checked before
Lightning loads it, and :func:`cli_main` prints any error as one line
(:func:`sepconv.errors.run_main`; ``--debug`` shows the traceback). Lightning's
informational log lines go to stdout, so stderr holds only warnings and errors.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
import warnings
from argparse import SUPPRESS
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from jsonargparse import ArgumentError
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from sepconv.errors import InputError, TrainingError, input_error_types, no_space_error, run_main
from sepconv.init_file import init_file
from sepconv.metrics_json import metrics_json
from sepconv.paths import check_output_dir
from sepconv.recipes import check_lightning_config, check_options
from sepconv.runlock import lock_run
from sepconv_torch import signals
from sepconv_torch.callbacks import LearningCurves, ProbabilityWriter
from sepconv_torch.checkpoint_contents import check_contents, checkpoint_architecture, stored_architecture
from sepconv_torch.checkpoints import AtomicCheckpointIO, check_checkpoint, find_checkpoint
from sepconv_torch.data import FashionMNISTDataModule
from sepconv_torch.finite import FiniteGuard
from sepconv_torch.lit_module import SepConvLitModule
from sepconv_torch.memory import check_fit_memory
from sepconv_torch.progress import counting_from_one
from sepconv_torch.resume import RunCheckpoint, option_conflicts, run_dir
from sepconv_torch.threads import CpuThreads

__all__ = ["SepConvCLI", "cli_main", "config_files", "make_cli"]

PROG = "sepconv-torch"
#: ckpt_path values Lightning resolves itself (not file paths)
_NAMED_CKPTS = ("best", "last", "hpc", "registry")
#: the loggers Lightning makes by default (TensorBoard's, or without it CSV)
_DEFAULT_LOGGERS = (TensorBoardLogger, CSVLogger)
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

    (Lightning's callbacks, their defaults the recipe's; ``--checkpoint`` is a ``ModelCheckpoint`` that
    a resumed fit hands its whole state to: :class:`sepconv_torch.resume.RunCheckpoint`.)
    ``--override``: resume ``fit`` with recipe options that differ from the checkpoint's.
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--override",
            action="store_true",
            default=SUPPRESS,
            help="fit --ckpt_path: train on with the options given here where they differ from the "
            "checkpoint's (optimizer, schedule, batch size, ...), instead of refusing them",
        )
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
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
        parser.add_lightning_class_args(CpuThreads, "cpu_threads")

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Check the recipe keys of ``--config`` files, parse as LightningCLI does, check ``--ckpt_path``.

        (Lightning reads the checkpoint's hyperparameters right after parsing: it is checked before that.)
        """
        if args is None or isinstance(args, (list, tuple)):
            for path in config_files(sys.argv[1:] if args is None else args):
                check_lightning_config(path)
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        config = self.config[subcommand]
        check_options(config.as_dict())  # the recipes' rules hold on the command line too
        root = config.get("trainer", {}).get("default_root_dir")
        if root:
            check_output_dir(root, "--trainer.default_root_dir")
        which = config.get("ckpt_path")
        if which in ("best", "last"):  # a file from here on: Lightning reads its hyperparameters
            config["ckpt_path"] = str(find_checkpoint(root or ".", which))
            rank_zero_only(print)(f"sepconv-torch: ckpt_path={which!r} -> {config['ckpt_path']}")
        if config.get("ckpt_path") and config["ckpt_path"] not in _NAMED_CKPTS:
            checkpoint = check_checkpoint(config["ckpt_path"])
            check_contents(config["ckpt_path"], checkpoint, subcommand)  # weights, Lightning keys, hparams
            checkpoint_architecture(config["ckpt_path"], checkpoint, config["model"])  # its network
            if subcommand == "fit":
                self._check_resume_options(config, checkpoint)
                if config["model"].get("init_from_file"):  # its weights, not the file's: the record
                    config["model"]["architecture"] = stored_architecture(checkpoint)
        elif subcommand == "fit" and config["model"].get("init_from_file"):
            init_file(config["model"].get("architecture"), "model.architecture", "model.init_from_file")

    def _check_resume_options(self, config: Any, checkpoint: dict[str, Any]) -> None:
        """Refuse recipe options that differ from the checkpoint's, naming each; ``--override``: say so."""
        conflicts = option_conflicts(
            checkpoint, config["model"], config["data"], config.get("trainer", {}).get("max_epochs")
        )
        if not conflicts:
            return
        listed = "; ".join(map(str, conflicts))
        if not config.get("override"):
            raise InputError(
                f"{config['ckpt_path']}: resuming with options that differ from the checkpoint's: {listed} "
                "(give the checkpoint's values, or add --override to train on with the given ones)"
            )
        rank_zero_only(print)(
            f"sepconv-torch: --override: resuming {config['ckpt_path']} with {listed}", file=sys.stderr
        )

    def _parse_ckpt_path(self) -> None:
        """``test``/``validate``/``predict`` build the model from the checkpoint's hyperparameters
        (Lightning's behaviour); ``fit`` keeps the options given, which :meth:`parse_arguments` compared."""
        if self.config.get("subcommand") != "fit":
            super()._parse_ckpt_path()

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """The configured trainer; it writes checkpoints atomically unless another checkpoint IO is set.

        Lightning's default progress bar counts epochs from 0; this CLI's counts from 1
        (:mod:`sepconv_torch.progress`). Lightning's tqdm bar redraws after every batch, which costs
        about 0.4 ms of a 10 ms training step here (benchmarks/step_time.py); this CLI's redraws every
        :data:`PROGRESS_REFRESH` batches. A bar configured in ``--trainer.callbacks`` is kept.
        """
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        bar = trainer.progress_bar_callback
        if bar is not None:
            trainer.callbacks[trainer.callbacks.index(bar)] = counting_from_one(bar, PROGRESS_REFRESH)
        self._place_outputs(trainer)
        signals.watch(trainer)
        return trainer

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[L.Callback]) -> L.Trainer:
        """Lightning's; ``--trainer.enable_checkpointing false`` also drops this CLI's own checkpoint
        callback (``--checkpoint.*``), which Lightning would refuse beside it."""
        if config.get("enable_checkpointing") is False:
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        return super()._instantiate_trainer(config, callbacks)

    def _place_outputs(self, trainer: L.Trainer) -> None:
        """Where the default logger writes: a resumed ``fit`` into the checkpoint's run folder; nowhere for
        the other subcommands (which write no ``config.yaml`` either). A logger that was given is kept."""
        subcommand = self.config.get("subcommand")
        if not subcommand or self.config[subcommand].get("trainer", {}).get("logger") is not None:
            return
        if subcommand != "fit":
            trainer.logger = None
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, SaveConfigCallback)]
            return
        ckpt_path = self.config[subcommand].get("ckpt_path")
        logger = trainer.logger
        if ckpt_path and Path(ckpt_path).parent.name == "checkpoints" and type(logger) in _DEFAULT_LOGGERS:
            run = run_dir(ckpt_path)
            trainer.logger = type(logger)(save_dir=run.parent.parent, name=run.parent.name, version=run.name)
            for callback in trainer.checkpoint_callbacks:
                if isinstance(callback, RunCheckpoint):
                    callback.resume_from = ckpt_path

    def _resolve_ckpt_path(self) -> None:
        """Check the checkpoint against the model built (``best``/``last`` were resolved when parsing)."""
        path = self.config_init[self.subcommand].get("ckpt_path")
        if path and path not in _NAMED_CKPTS:
            check_checkpoint(path, self.model)

    def before_fit(self) -> None:
        self._resolve_ckpt_path()
        self.model.load_init_file()  # init_from_file: any refusal before the data and the run folder
        check_fit_memory(self.trainer, self.datamodule)  # on the CPU the OS kills, silently
        watching = [c for c in self.trainer.callbacks if getattr(c, "monitor", None) == "val_loss"]
        if watching and (self.trainer.limit_val_batches == 0 or self.trainer.check_val_every_n_epoch is None):
            names = sorted(
                "--checkpoint.monitor" if isinstance(c, ModelCheckpoint) else "--early_stopping.monitor"
                for c in watching
            )
            raise InputError(
                f"--trainer.limit_val_batches {self.trainer.limit_val_batches}: no validation, but "
                f"{' and '.join(names)} watch val_loss; keep validation, or set them to a training value "
                "(loss, accuracy)"
            )
        if self.trainer.is_global_zero:  # one fit per root: a second is refused, naming the first
            self._run_lock = lock_run(
                self.trainer.default_root_dir,
                "--trainer.default_root_dir",
                f"{PROG} {shlex.join(sys.argv[1:])}",
            )
            fresh = not self.config_init[self.subcommand].get("ckpt_path")
            self._new_run_dir = _first_new_dir(self.trainer) if fresh else None

    def _run_subcommand(self, subcommand: str) -> None:
        """Lightning's, releasing the root's lock when the subcommand ends, however it ends (a second
        fit in the same process, as in a notebook, would otherwise find its own lock). A fit refused
        before its first step leaves no run folder behind (:meth:`_discard_refused_run`)."""
        try:
            super()._run_subcommand(subcommand)
        except BaseException as error:
            self._discard_refused_run(error)
            raise
        finally:
            lock, self._run_lock = getattr(self, "_run_lock", None), None
            if lock is not None:
                lock.release()

    def _discard_refused_run(self, error: BaseException) -> None:
        """Remove the run folder a fresh ``fit`` made (``version_N`` with its ``config.yaml`` and event
        file, and any parent it created) when the fit was refused (bad input, status 2) before its first
        training step: a refusal leaves nothing behind. Failures, signals and a full disk keep it."""
        new, self._new_run_dir = getattr(self, "_new_run_dir", None), None
        if new is None or self.trainer.global_step > 0 or not new.is_dir():
            return
        if isinstance(error, TrainingError) or no_space_error(error) is not None:
            return
        if not isinstance(error, input_error_types()) or any(new.rglob("*.ckpt")):
            return
        shutil.rmtree(new, ignore_errors=True)

    def before_validate(self) -> None:
        self._resolve_ckpt_path()

    def before_test(self) -> None:
        self._resolve_ckpt_path()

    def before_predict(self) -> None:
        self._resolve_ckpt_path()

    def after_fit(self) -> None:
        """Say where the run was written."""
        if not self.trainer.is_global_zero:
            return
        callback = self.trainer.checkpoint_callback
        written = [
            ("last", getattr(callback, "last_model_path", "")),
            ("best", getattr(callback, "best_model_path", "")),
        ]
        curves = next((c.paths for c in self.trainer.callbacks if isinstance(c, LearningCurves)), None)
        if curves:
            written += [("learning curves", str(curves[0])), ("metrics", str(curves[1]))]
        print("sepconv-torch: wrote " + "; ".join(f"{what}: {path}" for what, path in written if path))

    def after_test(self) -> None:
        """Write ``test_metrics.json`` into the tested checkpoint's run folder (:func:`run_dir`).

        Without a checkpoint (the model as built), into ``--trainer.default_root_dir``.
        """
        if not self.trainer.is_global_zero:
            return
        results = {k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith("test_")}
        ckpt_path = self.config_init[self.subcommand].get("ckpt_path")
        results["ckpt_path"] = ckpt_path
        folder = run_dir(ckpt_path) if ckpt_path else Path(self.trainer.default_root_dir)
        path = folder / "test_metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(metrics_json(results))  # NaN as null, with the reason
        print(f"sepconv-torch: wrote {path}")

    def after_predict(self) -> None:
        """Say where the predictions were written."""
        writer = next((c for c in self.trainer.callbacks if isinstance(c, ProbabilityWriter)), None)
        if self.trainer.is_global_zero and writer is not None and writer.path is not None:
            print(f"sepconv-torch: wrote {writer.path} and {writer.csv_path}")


def _first_new_dir(trainer: L.Trainer) -> Path | None:
    """The outermost folder of the default logger's ``log_dir`` that does not exist yet (``version_N``,
    or ``lightning_logs`` too in a new root), or None when ``log_dir`` exists (a version given)."""
    if type(trainer.logger) not in _DEFAULT_LOGGERS or trainer.logger.log_dir is None:
        return None
    path = Path(trainer.logger.log_dir).absolute()
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


#: ``--debug`` is taken off the command line before LightningCLI parses it; its help says it is there
DEBUG_HELP = "--debug: print the traceback of an error before its one line (also SEPCONV_DEBUG=1)"


def make_cli(args: list[str] | None = None, run: bool = True) -> SepConvCLI:
    """Build (and with ``run``, execute) the CLI; ``args`` replaces ``sys.argv[1:]``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # tensorboard may import TensorFlow, which is chatty
    return SepConvCLI(
        SepConvLitModule,
        FashionMNISTDataModule,
        seed_everything_default=42,
        trainer_defaults={"max_epochs": 10, "default_root_dir": "runs/torch", "deterministic": True},
        save_config_kwargs={"overwrite": True},
        parser_kwargs={  # argument errors raise: one line through run_main
            "exit_on_error": False,
            "epilog": DEBUG_HELP,
            **{subcommand: {"epilog": DEBUG_HELP} for subcommand in SepConvCLI.subcommands()},
        },
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
        except BaseException as e:
            stop = signals.as_stop(e, rank_zero_only.rank)
            if stop is None:
                raise
            raise stop from e

    with signals.handled():
        return run_main(PROG, main, debug=debug or None, stopped_note=lambda: signals.stop_note(argv))


if __name__ == "__main__":
    sys.exit(cli_main())
