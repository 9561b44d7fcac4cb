"""``sepconv-keras train``: the reference tutorial's training script as a command.

Same arrays as the PyTorch side (:func:`sepconv.data.load_splits`), the model
from :func:`sepconv_keras.build_model`, SGD / sparse categorical cross-entropy
/ accuracy, TensorBoard, ModelCheckpoint (best ``val_loss``) and EarlyStopping
(patience 5, min_delta 1e-3), then the learning-curve PNG, ``metrics.csv`` and
the test evaluation (``test_metrics.json``). A recipe (``--recipe``) sets the
defaults; explicit options override it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
    return parser


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be positive, received {value}")


def train(args: argparse.Namespace) -> dict[str, float]:
    """Run the recipe; returns the test metrics of the final and the best model."""
    from sepconv.compat import import_tensorflow

    import_tensorflow()
    import keras

    from sepconv.curves import write_curves
    from sepconv.data import load_splits
    from sepconv.recipes import load_recipe
    from sepconv_keras.data import augmentation, make_dataset
    from sepconv_keras.model import build_model

    recipe = load_recipe(args.recipe)
    epochs = args.epochs or recipe.epochs
    batch_size = args.batch_size or recipe.batch_size
    lr = args.lr or recipe.lr
    seed = recipe.seed if args.seed is None else args.seed
    for name in ("epochs", "batch_size", "lr", "steps_per_epoch"):
        _positive(f"--{name.replace('_', '-')}", getattr(args, name))

    keras.utils.set_random_seed(seed)
    splits = load_splits(args.data_dir)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    augment = augmentation(splits.background, seed) if recipe.augment else None
    train_ds = make_dataset(
        splits.x_train, splits.y_train, batch_size, shuffle=True, seed=seed, augment=augment
    )
    val_ds = make_dataset(splits.x_val, splits.y_val, 500)
    steps = args.steps_per_epoch or -(-len(splits.y_train) // batch_size)

    schedule: float | keras.optimizers.schedules.LearningRateSchedule = lr
    if recipe.schedule == "cosine":
        total, warmup = epochs * steps, round(recipe.warmup_epochs * steps)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total - warmup, warmup_target=lr, warmup_steps=warmup
        )
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
    history = model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=val_ds,
        callbacks=callbacks,
        shuffle=False,  # the dataset reshuffles itself, seeded
        verbose=args.verbose,
    ).history
    rows = [{k: float(v[i]) for k, v in history.items()} for i in range(len(history["loss"]))]
    write_curves(rows, out, title="sepconv (Keras)")

    test_ds = make_dataset(splits.x_test, splits.y_test, 500)
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
    (out / "test_metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
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
