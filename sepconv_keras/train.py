"""``sepconv-keras train``: the reference tutorial's training script as a command.

Same arrays as the PyTorch side (:func:`sepconv.data.load_splits`), the model
from :func:`sepconv_keras.build_model`, SGD / sparse categorical cross-entropy
/ accuracy, TensorBoard, ModelCheckpoint (best ``val_loss``) and EarlyStopping
(patience 5, min_delta 1e-3), then the learning-curve PNG, ``metrics.csv`` and
the test evaluation (``test_metrics.json``). A recipe (``--recipe``) sets the
defaults; explicit options override it.

``--strategy mirrored|multi-worker`` trains with ``tf.distribute`` (see
:mod:`sepconv_keras.distribute`). Each epoch is backed up (``BackupAndRestore``);
``--resume`` continues a killed run where its last epoch ended, and ends as the
uninterrupted run would (see :mod:`sepconv_keras.resume`). Op determinism is on:
the same seed gives the same weights.

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
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from sepconv.errors import InputError, TrainingError, run_main
from sepconv.paths import check_output_dir
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


def train(args: argparse.Namespace) -> dict[str, float]:
    """Run the recipe; returns the test metrics of the final and the best model.

    Raises :class:`~sepconv.errors.TrainingError` if the loss became non-finite.
    """
    from sepconv.data import load_splits

    multi_worker = args.strategy == "multi-worker"
    if multi_worker and args.resume:
        raise ValueError(
            "--resume is not supported with --strategy multi-worker (each worker would need its backup)"
        )
    recipe = recipe_with_options(args)
    check_output_dir(args.output_dir, "--output-dir")
    splits = load_splits(recipe.data_dir, download=recipe.download and not args.no_download)

    from sepconv.compat import import_tensorflow

    tf = import_tensorflow(quiet=True)
    import keras

    from sepconv.curves import write_curves
    from sepconv_keras.checkpoint import AtomicModelCheckpoint
    from sepconv_keras.data import make_dataset, train_stream
    from sepconv_keras.distribute import is_chief, make_strategy, prepare_multi_worker
    from sepconv_keras.losses import make_loss
    from sepconv_keras.memory import check_batch_fits
    from sepconv_keras.model import build_model
    from sepconv_keras.nonfinite import NonFiniteStop
    from sepconv_keras.optim import make_optimizer
    from sepconv_keras.resume import RunHistory, backed_up_epochs, recover_backup

    strategy = make_strategy(args.strategy, args.cpu_replicas)  # before any other TensorFlow work

    epochs, batch_size, lr, seed = recipe.epochs, recipe.batch_size, recipe.lr, recipe.seed
    if not tf.config.list_physical_devices("GPU"):
        check_batch_fits(batch_size)  # on the CPU, TensorFlow does not survive running out of memory
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    chief = is_chief(strategy)
    # Other workers of a cluster write their (identical) files into a scratch directory.
    out = Path(args.output_dir) if chief else Path(tempfile.mkdtemp(prefix="sepconv-keras-worker-"))
    out.mkdir(parents=True, exist_ok=True)
    backup = out / "backup"
    if args.resume and recover_backup(backup):
        print(f"sepconv-keras: the latest backup in {backup} was cut short; resuming from the one before")
    first_epoch = backed_up_epochs(backup)
    if first_epoch and not args.resume:
        raise ValueError(
            f"{backup} holds the backup of an interrupted run (after epoch {first_epoch}); "
            "pass --resume to continue it, or delete the directory to start again"
        )

    steps = args.steps_per_epoch or -(-len(splits.y_train) // batch_size)
    shard = tf.data.Options()
    shard.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds = train_stream(
        splits.x_train,
        splits.y_train,
        batch_size,
        seed=seed,
        first_epoch=first_epoch,
        epochs=epochs,
        steps=steps,
        background=splits.background if recipe.augment else None,
    ).with_options(shard)
    val_ds = make_dataset(splits.x_val, splits.y_val, 500).with_options(shard)

    schedule: float | keras.optimizers.schedules.LearningRateSchedule = lr
    if recipe.schedule == "cosine":
        total, warmup = epochs * steps, round(recipe.warmup_epochs * steps)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total - warmup, warmup_target=lr, warmup_steps=warmup
        )
    with strategy.scope():
        model = build_model(initializer=recipe.initializer, seed=seed)
        model.compile(
            optimizer=make_optimizer(recipe, schedule),
            loss=make_loss(recipe.label_smoothing),
            metrics=["accuracy"],
        )
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
        prepare_multi_worker(model, strategy, splits.x_train[:2], splits.y_train[:2])
    history = RunHistory(backup, restore=list(callbacks), write=not multi_worker)
    callbacks.append(history)
    if not multi_worker:  # last: it saves after the others have seen the epoch
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True))
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
    rows = history.rows
    model.save(out / "last.keras")  # the final model (every worker saves: scratch files off the chief)
    if chief:
        write_curves(rows, out, title="sepconv (Keras)")

    test_ds = make_dataset(splits.x_test, splits.y_test, 500).with_options(shard)
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
        (out / "test_metrics.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
    else:
        shutil.rmtree(out, ignore_errors=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sepconv-keras``: errors are one line (``--debug``: the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)

    def run() -> None:
        parsed = build_parser().parse_args(args)
        if parsed.command == "predict":
            predict(parsed)
        else:
            train(parsed)

    return run_main(PROG, run, args)


if __name__ == "__main__":
    sys.exit(main())
