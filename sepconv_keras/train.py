"""``sepconv-keras train``: the reference tutorial's training script as a command.

Same arrays as the PyTorch side (:func:`sepconv.data.load_splits`), the model
from :func:`sepconv_keras.build_model`, SGD / sparse categorical cross-entropy
/ accuracy, TensorBoard, ModelCheckpoint (best ``val_loss``) and EarlyStopping
(patience 5, min_delta 1e-3), then the learning-curve PNG, ``metrics.csv`` and
the test evaluation (``test_metrics.json``). A recipe (``--recipe``) sets the
defaults; explicit options override it.

``--architecture FILE`` trains a described network instead (:mod:`sepconv.described`: a YAML description
or a Keras model file's layers; :func:`sepconv_keras.arch.build_keras`, every kernel drawn by the
recipe's initializer), on Fashion-MNIST presented to its input (:mod:`sepconv.data.present`); a network
that does not end in ``softmax`` gets a final ``Activation("softmax")`` named ``probabilities``, so the
saved models output probabilities as the reference does.

``--strategy mirrored|multi-worker`` trains with ``tf.distribute`` (see
:mod:`sepconv_keras.distribute`). Each epoch is backed up (``BackupAndRestore``);
``--resume`` continues a killed run where its last epoch ended, and ends as the
uninterrupted run would (see :mod:`sepconv_keras.resume`); a backup is checked before it is trusted
(a damaged one falls back to the epoch before), and a resume with options that change the run (learning
rate, optimizer, batch size, schedule) is refused unless ``--override`` is given. The run records its
network in ``backup/run.json`` (:func:`sepconv_keras.run_options.architecture_record`): ``--resume``
without ``--architecture`` trains the recorded one, and another network is refused by name, with
``--override`` too. Op determinism is on: the same seed gives the same weights.

One run per ``--output-dir`` (:func:`sepconv.runlock.lock_run`): a second is refused, naming the first.
Every file is written under a private name and renamed into place. SIGTERM stops the run with status
143 and Ctrl-C with 130, after writing the learning curves of the finished epochs, with one line that
says what was saved and how to resume.

Failures: the recipe, the options and the data are checked before TensorFlow is
imported, and any error is one line on stderr with a non-zero status
(:func:`sepconv.errors.run_main`; ``--debug`` shows the traceback). A
non-finite loss stops training at that batch (:class:`NonFiniteStop`, Keras'
``TerminateOnNaN``) with status 1 and a message naming the epoch and batch;
nothing is saved after it, so ``best.keras`` keeps the last good best-``val_loss``
model (and a NaN ``val_loss`` at an epoch's end never counts as an improvement).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sepconv.errors import InputError, Terminated, TrainingError, run_main, sigterm_raises
from sepconv.paths import check_output_dir, write_text_atomic
from sepconv.recipes import Recipe, RecipeError, load_recipe, recipe_path
from sepconv_keras.predict import add_predict_parser, predict

__all__ = ["build_parser", "main", "recipe_with_options", "train"]

PROG = "sepconv-keras"


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors raise :class:`InputError` (one line through ``run_main``)."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (`{self.prog} --help` lists the options)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the Keras model on Fashion-MNIST")
    p.add_argument(
        "--recipe",
        default="reference",
        help="reference, tuned, fast or a recipe YAML path (default: reference)",
    )
    p.add_argument(
        "--architecture",
        help="train this network instead of the reference: a description YAML (or reference, standard, "
        "mobilenet_v1_025_32) or a Keras model file (.keras, .h5, .json; its layers)",
    )
    p.add_argument(
        "--init-from-file",
        action="store_true",
        help="with --architecture FILE.keras/.h5: start from that file's weights (fine-tuning; the "
        "optimizer starts afresh; a --resume continues from the backup instead)",
    )
    p.add_argument("--epochs", type=int, help="epochs (recipe: 10)")
    p.add_argument("--batch-size", type=int, help="training batch size (recipe)")
    p.add_argument("--lr", type=float, help="SGD learning rate (recipe)")
    p.add_argument("--steps-per-epoch", type=int, help="limit each epoch to this many batches (smoke runs)")
    p.add_argument(
        "--data-dir", help="directory with the four .gz files, used alone (default: recipe, then searched)"
    )
    p.add_argument(
        "--no-download", action="store_true", help="refuse to download missing files (default: download)"
    )
    p.add_argument("--output-dir", default="runs/keras", help="where checkpoints, logs and curves go")
    p.add_argument("--seed", type=int, help="random seed (recipe: 42)")
    p.add_argument("--h5", action="store_true", help="also keep the reference's fashion_mnist_model.h5")
    p.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    p.add_argument(
        "--strategy",
        default="default",
        choices=("default", "mirrored", "multi-worker"),
        help="tf.distribute strategy: one device, all GPUs of this machine, or a TF_CONFIG cluster",
    )
    p.add_argument(
        "--cpu-replicas", type=int, help="with --strategy mirrored: split the CPU into this many replicas"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the interrupted run backed up in --output-dir"
    )
    p.add_argument(
        "--override",
        action="store_true",
        help="with --resume: accept options that differ from the interrupted run's (each one is reported)",
    )
    predict = add_predict_parser(sub)
    for where in (parser, p, predict):
        where.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
        )
    return parser


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be positive, received {value}")


def recipe_with_options(args: argparse.Namespace) -> Recipe:
    """The recipe named by ``--recipe`` with the explicit options applied, all of it validated."""
    for name in ("epochs", "batch_size", "lr", "steps_per_epoch"):
        _positive(f"--{name.replace('_', '-')}", getattr(args, name))
    recipe = load_recipe(args.recipe)
    options: dict[str, Any] = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "data_dir": args.data_dir,
    }
    try:
        return dataclasses.replace(recipe, **{k: v for k, v in options.items() if v is not None})
    except RecipeError as e:
        raise RecipeError(f"{recipe_path(args.recipe)} with the command-line options: {e}") from None


@dataclasses.dataclass
class Progress:
    """How far a run got, for the line printed when a signal stops it (:meth:`stopped_note`)."""

    argv: list[str]
    lock: Any = None  # the --output-dir lock (sepconv.runlock.RunLock), held while this lives
    out: Path | None = None
    epochs: int = 0
    trained: bool = False

    def stopped_note(self) -> str | None:
        if self.out is None:
            return "nothing was saved"
        from sepconv_keras.resume import backed_up_epochs

        best = self.out / "best.keras"
        if self.trained:
            return f"training had finished: {best} and {self.out / 'last.keras'} are saved"
        try:
            done = backed_up_epochs(self.out / "backup")
        except ValueError:
            done = 0
        if not done:
            return "no epoch had finished, nothing was saved"
        args = self.argv if "--resume" in self.argv else [*self.argv, "--resume"]
        return (
            f"epoch {done} of {self.epochs} is backed up in {self.out / 'backup'} and the best model so far "
            f"is {best}; continue with `{PROG} {shlex.join(args)}`"
        )


def train(args: argparse.Namespace, progress: Progress | None = None) -> dict[str, float]:
    """Run the recipe; returns the test metrics of the final and the best model.

    Raises :class:`~sepconv.errors.TrainingError` if the loss became non-finite. ``progress``, if
    given, is kept up to date for the line a signal prints.
    """
    from sepconv.data import load_splits

    progress = progress or Progress([])
    multi_worker = args.strategy == "multi-worker"
    if multi_worker and args.resume:
        raise ValueError(
            "--resume is not supported with --strategy multi-worker (each worker would need its backup)"
        )
    if args.override and not args.resume:
        raise InputError("--override applies only with --resume")
    recipe = recipe_with_options(args)
    from sepconv.described import check_trainable, muon_matrices, read_architecture
    from sepconv.init_file import init_file

    description, source = None, getattr(args, "architecture", None)
    if source is not None:
        description = check_trainable(read_architecture(source, "--architecture"), source)
    start = init_file(source, "--architecture", "--init-from-file") if args.init_from_file else None
    check_output_dir(args.output_dir, "--output-dir")
    splits = load_splits(recipe.data_dir, download=recipe.download and not args.no_download)

    from sepconv.compat import import_tensorflow

    tf = import_tensorflow(quiet=True)
    import keras

    from sepconv.curves import write_curves
    from sepconv_keras.checkpoint import AtomicModelCheckpoint
    from sepconv_keras.data import make_dataset, presented_images, train_stream
    from sepconv_keras.distribute import is_chief, make_strategy, prepare_multi_worker
    from sepconv_keras.losses import make_loss
    from sepconv_keras.memory import check_batch_fits
    from sepconv_keras.model import build_model
    from sepconv_keras.nonfinite import NonFiniteStop
    from sepconv_keras.optim import make_optimizer
    from sepconv_keras.resume import (
        AtomicBackupAndRestore,
        RunHistory,
        has_backup,
    )
    from sepconv_keras.run_options import ARCHITECTURE, architecture_record, run_options, write_options

    if args.resume:
        description, source = _resumed_architecture(Path(args.output_dir) / "backup", description, source)
    strategy = make_strategy(args.strategy, args.cpu_replicas)  # before any other TensorFlow work
    x_train, x_val, x_test = presented_images(
        splits, None if description is None else description.input_shape
    )

    epochs, batch_size, lr, seed = recipe.epochs, recipe.batch_size, recipe.lr, recipe.seed
    if not tf.config.list_physical_devices("GPU"):
        check_batch_fits(batch_size)  # on the CPU, TensorFlow does not survive running out of memory
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    chief = is_chief(strategy)
    # Other workers of a cluster write their (identical) files into a scratch directory.
    out = Path(args.output_dir) if chief else Path(tempfile.mkdtemp(prefix="sepconv-keras-worker-"))
    if chief:
        from sepconv.runlock import lock_run

        progress.lock = lock_run(out, "--output-dir", f"{PROG} {shlex.join(progress.argv)}")
    out.mkdir(parents=True, exist_ok=True)
    backup = out / "backup"
    steps = args.steps_per_epoch or -(-len(splits.y_train) // batch_size)

    schedule: float | keras.optimizers.schedules.LearningRateSchedule = lr
    if recipe.schedule == "cosine":
        total, warmup = epochs * steps, round(recipe.warmup_epochs * steps)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total - warmup, warmup_target=lr, warmup_steps=warmup
        )
    with strategy.scope():
        model = (
            build_model(initializer=recipe.initializer, seed=seed)
            if description is None
            else _described_model(description, recipe.initializer, seed)
        )
        model.compile(
            optimizer=make_optimizer(
                recipe, schedule, None if description is None else muon_matrices(description)
            ),
            loss=make_loss(recipe.label_smoothing),
            metrics=["accuracy"],
        )

    options = {**run_options(recipe, steps), ARCHITECTURE: architecture_record(description, source)}
    resumed = has_backup(backup)
    first_epoch = _restore_point(backup, model, strategy, options, args) if resumed else 0
    if start is not None and not (resumed and args.resume):  # a resume continues from the backup
        from sepconv_keras.init_file import load_keras_file

        load_keras_file(model, description, start)
    progress.out, progress.epochs = out, epochs
    if chief and not multi_worker:  # multi-worker runs keep no backup
        write_options(backup, options)

    shard = tf.data.Options()
    shard.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds = train_stream(
        x_train,
        splits.y_train,
        batch_size,
        seed=seed,
        first_epoch=first_epoch,
        epochs=epochs,
        steps=steps,
        background=splits.background if recipe.augment else None,
    ).with_options(shard)
    val_ds = make_dataset(x_val, splits.y_val, 500).with_options(shard)

    best = out / "best.keras"
    callbacks: list[keras.callbacks.Callback] = [
        NonFiniteStop(best, steps),
        keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard")),
        AtomicModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, min_delta=1e-3),
    ]
    if args.h5:
        callbacks.append(
            AtomicModelCheckpoint(
                str(out / "fashion_mnist_model.h5"), monitor="val_loss", save_best_only=True
            )
        )
    if multi_worker:
        prepare_multi_worker(model, strategy, x_train[:2], splits.y_train[:2])
    history = RunHistory(backup, restore=list(callbacks), write=not multi_worker)
    callbacks.append(history)
    if not multi_worker:  # last: it saves after the others have seen the epoch
        callbacks.append(AtomicBackupAndRestore(backup))
    try:
        model.fit(
            train_ds,
            epochs=epochs,
            steps_per_epoch=steps,
            validation_data=val_ds,
            callbacks=callbacks,
            shuffle=False,  # the stream is shuffled per epoch from (seed, epoch)
            verbose=args.verbose,
        )
    except TrainingError:  # a non-finite loss: keep the curves of the completed epochs, then report it
        if chief:
            write_curves(history.rows, out, title="sepconv (Keras)")
        shutil.rmtree(backup, ignore_errors=True)  # the run is over: a rerun starts afresh, not from here
        raise
    except (KeyboardInterrupt, Terminated):  # the backup stays for --resume; curves of the finished epochs
        if chief and history.rows:
            write_curves(history.rows, out, title="sepconv (Keras)")
        raise
    rows = history.rows
    _save_atomic(
        model, out / "last.keras"
    )  # the final model (every worker saves: scratch files off the chief)
    progress.trained = True
    if chief:
        write_curves(rows, out, title="sepconv (Keras)")

    test_ds = make_dataset(x_test, splits.y_test, 500).with_options(shard)
    final = model.evaluate(test_ds, verbose=0, return_dict=True)
    best_model = keras.models.load_model(best, safe_mode=True, compile=False)
    best_model.compile(loss=make_loss(recipe.label_smoothing), metrics=["accuracy"])
    best_metrics = best_model.evaluate(test_ds, verbose=0, return_dict=True)
    results = {
        "test_loss": float(final["loss"]),
        "test_accuracy": float(final["accuracy"]),
        "best_test_loss": float(best_metrics["loss"]),
        "best_test_accuracy": float(best_metrics["accuracy"]),
        "epochs_run": len(rows),
    }
    if chief:
        write_text_atomic(out / "test_metrics.json", json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
    else:
        shutil.rmtree(out, ignore_errors=True)
    return results


def _described_model(description: Any, initializer: str, seed: int) -> Any:
    """The Keras model of ``description`` with ``initializer``'s kernels, ending in probabilities."""
    import keras

    from sepconv_keras.arch import build_keras

    model = build_keras(description, seed=seed, initializer=initializer)
    if not description.ends_in_softmax():
        model.add(keras.layers.Activation("softmax", name="probabilities"))
    return model


def _resumed_architecture(backup: Path, given: Any, source: str | None) -> tuple[Any, str | None]:
    """``(description, --architecture value)`` a ``--resume`` trains: ``given`` (None: the built-in
    reference) if the interrupted run recorded that network; the recorded one if ``--architecture`` was
    not given; another network is refused in one line naming both. Without a backup, or with a record
    older than the network's, ``given`` (the backup's array shapes are checked later)."""
    from sepconv.described import check_trainable, read_architecture
    from sepconv_keras.resume import has_backup
    from sepconv_keras.run_options import (
        ARCHITECTURE,
        RUN_FILE,
        architecture_record,
        architecture_refusal,
        read_options,
    )

    saved = read_options(backup) if has_backup(backup) else None
    if saved is None or ARCHITECTURE not in saved:
        return given, source
    recorded, where = saved[ARCHITECTURE], backup / RUN_FILE
    if recorded is not None and not (isinstance(recorded, dict) and "description" in recorded):
        raise InputError(f"--resume: {where}: the recorded architecture is not a description record")
    if source is None and recorded is not None:
        description = check_trainable(read_architecture(recorded["description"], str(where)), str(where))
        print(
            f"{PROG}: --resume: training network {description.name!r}, the interrupted run's "
            f"(recorded in {where})",
            file=sys.stderr,
        )
        return description, recorded.get("source")
    refusal = architecture_refusal(recorded, architecture_record(given, source))
    if refusal is not None:
        raise InputError(f"--resume: {refusal}")
    return given, source


def _restore_point(
    backup: Path, model: Any, strategy: Any, options: dict[str, Any], args: argparse.Namespace
) -> int:
    """The epoch to start from, given the backup files in ``backup``: checked against ``model``
    (:func:`sepconv_keras.resume.inspect_backup`), the previous one used where the latest is damaged,
    the run's options compared; refused where it cannot be used or ``--resume`` was not given."""
    from sepconv_keras.resume import adopt_backup, expected_layout, inspect_backup

    with strategy.scope():
        expected = expected_layout(model)
    state = inspect_backup(backup, expected)
    if not args.resume and state.source is not None:
        raise ValueError(
            f"{backup} holds the backup of an interrupted run (after epoch {state.epoch}); "
            "pass --resume to continue it, or delete the directory to start again"
        )
    if not args.resume:
        print(
            f"{PROG}: discarding {backup}, an unusable backup ({'; '.join(state.problems)})", file=sys.stderr
        )
        shutil.rmtree(backup)
        return 0
    if state.source is None:
        raise InputError(
            f"--resume: no usable backup in {backup} ({'; '.join(state.problems)}); "
            "delete the directory to start again"
        )
    if state.fell_back:
        print(
            f"{PROG}: {state.problems[0]}; resuming from the previous backup, {state.source} "
            f"(after epoch {state.epoch})",
            file=sys.stderr,
        )
    _check_options(backup, options, state.source, expected, args.override)
    adopt_backup(state)
    return state.epoch


def _check_options(
    backup: Path, options: dict[str, Any], source: Path, expected: dict[str, Any], override: bool
) -> None:
    """Refuse a resume whose options differ from the interrupted run's (:func:`conflicts`), or with
    ``override`` report them, and whether the optimizer state still fits (Keras drops it silently)."""
    from sepconv_keras.resume import optimizer_layout
    from sepconv_keras.run_options import conflicts, read_options

    saved = read_options(backup)
    found = conflicts(saved, options) if saved is not None else []
    if found and not override:
        raise InputError(
            f"--resume: options differ from those of the interrupted run in {backup}: {'; '.join(found)}; "
            "resume with the run's options, or add --override to continue with the new ones"
        )
    carried = optimizer_layout(source) == {k: v for k, v in expected.items() if k.startswith("optimizer/")}
    if found:
        dropped = "" if carried else "; the optimizer state does not fit the new optimizer and starts afresh"
        print(f"{PROG}: --override: resuming with {'; '.join(found)}{dropped}", file=sys.stderr)
    if not carried:  # Keras says so in a UserWarning only; the line above (or the refusal) says it
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        if not found:
            print(
                f"{PROG}: the optimizer state in {source} does not fit this optimizer; it starts afresh",
                file=sys.stderr,
            )


def _save_atomic(model: Any, path: Path) -> None:
    """``model.save(path)`` through a private temporary file renamed into place."""
    from sepconv.paths import commit, private_temp

    temp = private_temp(path)
    try:
        model.save(temp)
        commit(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sepconv-keras``: errors are one line (``--debug``: the traceback); SIGTERM and
    Ctrl-C stop a training run with 143 and 130 and a line saying what was saved and how to resume."""
    args = list(sys.argv[1:] if argv is None else argv)
    progress = Progress(args)

    def run() -> None:
        parsed = build_parser().parse_args(args)
        if parsed.command == "predict":
            predict(parsed)
        else:
            train(parsed, progress)

    with sigterm_raises():
        return run_main(PROG, run, args, stopped_note=progress.stopped_note)


if __name__ == "__main__":
    sys.exit(main())
