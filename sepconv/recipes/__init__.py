"""Training recipes: YAML files in LightningCLI's config format, read and validated once for both frameworks.

``sepconv-torch fit --config sepconv/recipes/<name>.yaml`` reads them as any
LightningCLI config (after :func:`check_lightning_config`); ``sepconv-keras
train --recipe <name>`` reads the same keys through :func:`load_recipe`.

A recipe's top level is a mapping with at most the sections
``seed_everything``, ``trainer``, ``model`` and ``data``. Each key has a
:class:`~sepconv.recipes.rules.Rule` (type, range, choices): the fields of
:class:`Recipe`, read by both frameworks, and :data:`TORCH_ONLY`, keys only
the PyTorch side reads. Adding a key is one line in one of the two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sepconv.data.splits import NUM_TRAIN
from sepconv.init import INITIALIZERS
from sepconv.paths import packaged_or_path
from sepconv.recipes.rules import Bound, RecipeError, Rule, above, at_least, below_one, between
from sepconv.schedule import SCHEDULES

#: ``sgd``: SGD on every parameter (the reference); ``muon``: Muon on the weight matrices (sepconv.muon)
OPTIMIZERS: tuple[str, ...] = ("sgd", "muon")

__all__ = [
    "MAX_YAML_VALUES",
    "OPTIMIZERS",
    "RECIPES_DIR",
    "SECTIONS",
    "TORCH_ONLY",
    "Recipe",
    "RecipeError",
    "check_lightning_config",
    "check_options",
    "check_value",
    "load_recipe",
    "parse_recipe",
    "read_yaml",
    "recipe_path",
    "recipe_rules",
]

RECIPES_DIR = Path(__file__).resolve().parent
#: the top-level keys a recipe may have
SECTIONS: tuple[str, ...] = ("seed_everything", "trainer", "model", "data")


def key(
    default: Any,
    name: str,
    kind: type,
    bound: Bound | None = None,
    *,
    choices: Sequence[str] = (),
    nullable: bool = False,
) -> Any:
    """A :class:`Recipe` field whose value is checked by ``Rule(name, kind, bound, choices, nullable)``."""
    return dataclasses.field(default=default, metadata={"rule": Rule(name, kind, bound, choices, nullable)})


@dataclass(frozen=True)
class Recipe:
    """What a recipe fixes, with the reference values as defaults; every value is checked on construction.

    Raises :class:`RecipeError` naming the YAML key (``model.lr``), expected against found.
    """

    seed: int = key(42, "seed_everything", int, at_least(0))
    epochs: int = key(10, "trainer.max_epochs", int, at_least(1))
    batch_size: int = key(32, "data.batch_size", int, between(1, NUM_TRAIN, "the training split's size"))
    lr: float = key(0.01, "model.lr", float, above(0))
    momentum: float = key(0.0, "model.momentum", float, below_one())
    nesterov: bool = key(False, "model.nesterov", bool)
    optimizer: str = key("sgd", "model.optimizer", str, choices=OPTIMIZERS)
    muon_lr: float = key(0.02, "model.muon_lr", float, above(0))
    muon_momentum: float = key(0.95, "model.muon_momentum", float, below_one())
    schedule: str = key("constant", "model.schedule", str, choices=SCHEDULES)
    warmup_epochs: float = key(0.0, "model.warmup_epochs", float, at_least(0))
    initializer: str = key("glorot_uniform", "model.initializer", str, choices=INITIALIZERS)
    label_smoothing: float = key(0.0, "model.label_smoothing", float, below_one())
    augment: bool = key(False, "data.augment", bool)
    data_dir: str | None = key(None, "data.data_dir", str, nullable=True)
    download: bool = key(True, "data.download", bool)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, field.metadata["rule"].check(getattr(self, field.name)))
        check_warmup(self.warmup_epochs, self.epochs)


#: Keys only sepconv-torch reads (memory layout, SELU variant and order, the convolutions' backward,
#: malloc and NaN-fill settings, evaluation chunks, loaders, its shuffle seed); Keras checks, then
#: ignores them.
TORCH_ONLY: tuple[Rule, ...] = (
    Rule("model.channels_last", bool),
    Rule("model.precise_selu", bool),
    Rule("model.pool_before_activation", bool),
    Rule("model.split_conv_backward", bool),
    Rule("model.retain_host_memory", bool),
    Rule("model.fill_uninitialized_memory", bool),
    Rule("model.eval_chunk_size", int, at_least(0)),
    Rule("data.eval_batch_size", int, at_least(1)),
    Rule("data.num_workers", int, at_least(0)),
    Rule("data.seed", int, at_least(0)),
    Rule("data.predict_dir", str, nullable=True),
)


def recipe_rules() -> dict[str, tuple[Rule, str | None]]:
    """Every known key: ``name -> (rule, Recipe field or None for a PyTorch-only key)``."""
    rules: dict[str, tuple[Rule, str | None]] = {
        f.metadata["rule"].name: (f.metadata["rule"], f.name) for f in dataclasses.fields(Recipe)
    }
    rules.update({rule.name: (rule, None) for rule in TORCH_ONLY})
    return rules


def check_value(name: str, value: Any, label: str | None = None) -> Any:
    """Check one value against the rule of key ``name`` (``"model.lr"``); see :meth:`Rule.check`."""
    return recipe_rules()[name][0].check(value, label)


def check_warmup(warmup_epochs: float, epochs: int) -> None:
    """The warm-up must end before training does."""
    if not warmup_epochs < epochs:
        raise RecipeError(
            f"model.warmup_epochs must be < trainer.max_epochs ({epochs}), "
            f"received model.warmup_epochs={warmup_epochs!r}"
        )


def recipe_path(name_or_path: str | Path) -> Path:
    """``reference`` / ``tuned`` -> the packaged YAML; anything else is taken as a path."""
    return packaged_or_path(RECIPES_DIR, name_or_path, "recipe")


#: values a recipe's YAML may expand to, aliases followed (a recipe has a few dozen; a LightningCLI
#: config with callbacks a few hundred)
MAX_YAML_VALUES = 100_000


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` stands for once every alias is copied out (memoised per node).

    PyYAML shares an aliased node, so loading a billion-leaf "alias bomb" is cheap; whatever walks or
    copies the result (LightningCLI does) expands it and runs out of memory.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise RecipeError("an alias refers to a node that contains it")
    open_nodes.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes, open_nodes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(
            _expanded_size(k, sizes, open_nodes) + _expanded_size(v, sizes, open_nodes) for k, v in node.value
        )
    open_nodes.discard(key)
    sizes[key] = size
    if size > MAX_YAML_VALUES:
        raise RecipeError(f"its aliases expand to more than {MAX_YAML_VALUES:,} values")
    return size


def read_yaml(path: Path) -> Any:
    """The YAML document in ``path``; :class:`RecipeError` naming the file if it cannot be read or parsed,
    or if it expands to more than :data:`MAX_YAML_VALUES` values (an alias bomb)."""
    try:
        loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            if node is not None:
                _expanded_size(node, {}, set())
            return None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RecipeError(f"{path}: cannot be read ({e})") from None
    except RecipeError as e:
        raise RecipeError(f"{path}: {e}") from None
    except RecursionError:
        raise RecipeError(f"{path}: nested too deeply to be a recipe") from None


def _sections(config: Any) -> dict[str, Mapping[Any, Any]]:
    """``{"": top level, "trainer": {...}, ...}``; the top level and each section must be mappings."""
    if not isinstance(config, Mapping):
        raise RecipeError(
            f"the top level must be a mapping with keys among {', '.join(SECTIONS)}, "
            f"received a {type(config).__name__}: {config!r:.60}"
        )
    sections: dict[str, Mapping[Any, Any]] = {"": config}
    for name, node in config.items():
        if name in SECTIONS[1:]:
            if node is None:  # LightningCLI would take it as "no class" and fail obscurely
                raise RecipeError(
                    f"{name} must be a mapping, received {name}: null (leave it out to keep the defaults)"
                )
            if not isinstance(node, Mapping):
                raise RecipeError(f"{name} must be a mapping, received {name}={node!r:.60}")
            sections[name] = node
    return sections


def _not_empty(config: Any) -> Any:
    """``config``, or :class:`RecipeError` if the document holds nothing (an empty or comment-only file)."""
    if config is None:
        raise RecipeError(
            f"empty; a recipe is a mapping with keys among {', '.join(SECTIONS)} "
            "(the reference recipe is `reference`)"
        )
    return config


def parse_recipe(config: Any, *, strict: bool = True) -> dict[str, Any]:
    """Check every known key of a parsed recipe; returns ``{Recipe field: value}`` for those it sets.

    ``strict``: an unknown key anywhere is an error (the Keras side would ignore
    it). Without it, unknown keys are left to LightningCLI, which refuses
    misspellings itself and knows every Trainer option.
    """
    rules = recipe_rules()
    values: dict[str, Any] = {}
    for section, node in _sections(config).items():
        for name, value in node.items():
            full = name if section == "" else f"{section}.{name}"
            if section == "" and name in SECTIONS[1:]:
                continue
            if full in rules:
                rule, field = rules[full]
                checked = rule.check(value)
                if field is not None:
                    values[field] = checked
            elif strict:
                known = sorted(k for k in rules if k.rpartition(".")[0] == section) if section else SECTIONS
                where = f"{section} key" if section else "top-level key"
                raise RecipeError(f"unknown {where} {full!r}, expected one of {known}")
    return values


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Read and validate a recipe YAML (strictly); errors name the file and the key."""
    path = recipe_path(name_or_path)
    config = read_yaml(path)
    try:
        return Recipe(**parse_recipe(_not_empty(config)))
    except RecipeError as e:
        raise RecipeError(f"{path}: {e}") from None


def check_lightning_config(path: str | Path) -> None:
    """Validate the recipe keys of a LightningCLI ``--config`` file; other keys are LightningCLI's business.

    ``seed_everything: true/false`` (LightningCLI's random / no seed) is accepted;
    ``warmup_epochs < max_epochs`` is checked when the file sets both.
    """
    path = Path(path)
    if not path.is_file():
        return  # LightningCLI reports a missing config itself
    config = read_yaml(path)
    try:
        _not_empty(config)
        if isinstance(config, Mapping) and isinstance(config.get("seed_everything"), bool):
            config = {k: v for k, v in config.items() if k != "seed_everything"}
        values = parse_recipe(config, strict=False)
        if "warmup_epochs" in values and "epochs" in values:
            check_warmup(values["warmup_epochs"], values["epochs"])
    except RecipeError as e:
        raise RecipeError(f"{path}: {e}") from None


def check_options(config: Mapping[str, Any], prefix: str = "--") -> None:
    """Check the recipe keys of a parsed LightningCLI configuration (defaults, files and command line
    merged: ``{"trainer": {...}, "model": {...}, ...}``) against the recipes' rules.

    The ``--config`` files were checked by :func:`check_lightning_config`, so a value refused here came
    from the command line: the message names the option (``--trainer.max_epochs``). Other keys, and
    ``seed_everything: true/false``, are LightningCLI's business.
    """
    for name, (rule, _) in recipe_rules().items():
        section, _, key = name.rpartition(".")
        node = config.get(section) if section else config
        if not isinstance(node, Mapping) or key not in node:
            continue
        if name == "seed_everything" and isinstance(node[key], bool):
            continue
        rule.check(node[key], f"{prefix}{name}")
