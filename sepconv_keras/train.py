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
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main", "train"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sepconv-keras", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train the Keras model on Fashion-MNIST")
    p.add_argument(
        "--recipe", default="reference", help="reference, tuned, or a recipe YAML path (default: reference)"
    )
    p.add_argument("--epochs", type=int, help="epochs (recipe: 10)")
    p.add_argument("--batch-size", type=int, help="training batch size (recipe)")
    p.add_argument("--lr", type=float, help="SGD learning rate (recipe)")
    p.add_argument("--steps-per-epoch", type=int, help="limit each epoch to this many batches (smoke runs)")
    p.add_argument("--data-dir", help="directory with the four .gz files (default: searched)")
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
    return parser


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be positive, received {value}")


def train(args: argparse.Namespace) -> dict[str, float]:
    """Run the recipe; returns the test metrics of the final and the best model."""
    from sepconv.compat import import_tensorflow

    tf = import_tensorflow()
    import keras

    from sepconv.curves import write_curves
    from sepconv.data import load_splits
    from sepconv.recipes import load_recipe
    from sepconv_keras.data import make_dataset, train_stream
    from sepconv_keras.distribute import is_chief, make_strategy, prepare_multi_worker
    from sepconv_keras.model import build_model
    from sepconv_keras.resume import RunHistory, backed_up_epochs, recover_backup

    strategy = make_strategy(args.strategy, args.cpu_replicas)  # before any other TensorFlow work

    recipe = load_recipe(args.recipe)
    epochs = args.epochs or recipe.epochs
    batch_size = args.batch_size or recipe.batch_size
    lr = args.lr or recipe.lr
    seed = recipe.seed if args.seed is None else args.seed
    for name in ("epochs", "batch_size", "lr", "steps_per_epoch"):
        _positive(f"--{name.replace('_', '-')}", getattr(args, name))

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    splits = load_splits(args.data_dir)
    chief = is_chief(strategy)
    multi_worker = args.strategy == "multi-worker"
    if multi_worker and args.resume:
        raise ValueError(
            "--resume is not supported with --strategy multi-worker (each worker would need its backup)"
        )
    final_out = Path(args.output_dir)
    # Other workers of a cluster write their (identical) files into a scratch directory.
    out = final_out if chief else Path(tempfile.mkdtemp(prefix="sepconv-keras-worker-"))
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
            optimizer=keras.optimizers.SGD(schedule, momentum=recipe.momentum, nesterov=recipe.nesterov),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    best = out / "best.keras"
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard")),
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, min_delta=1e-3),
    ]
    if args.h5:
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                str(out / "fashion_mnist_model.h5"), monitor="val_loss", save_best_only=True
            )
        )
    if multi_worker:
        prepare_multi_worker(model, strategy, splits.x_train[:2], splits.y_train[:2])
    history = RunHistory(backup, restore=list(callbacks), write=not multi_worker)
    callbacks.append(history)
    if not multi_worker:  # last: it saves after the others have seen the epoch
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True))
    model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps,
        validation_data=val_ds,
        callbacks=callbacks,
        shuffle=False,  # the stream is shuffled per epoch from (seed, epoch)
        verbose=args.verbose,
    )
    rows = history.rows
    model.save(out / "last.keras")  # the final model (every worker saves: scratch files off the chief)
    if chief:
        write_curves(rows, out, title="sepconv (Keras)")

    test_ds = make_dataset(splits.x_test, splits.y_test, 500).with_options(shard)
    final = model.evaluate(test_ds, verbose=0, return_dict=True)
    best_model = keras.models.load_model(best, safe_mode=True, compile=False)
    best_model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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
    """Entry point of ``sepconv-keras``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        train(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"sepconv-keras: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
