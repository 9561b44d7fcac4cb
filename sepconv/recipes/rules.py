"""The checks behind every recipe key: type, range or choices, as data.

A :class:`Rule` says where a key lives in the YAML (``"model.lr"``), which
Python type it takes and what values are allowed; :meth:`Rule.check` returns
the value (an ``int`` widened to ``float`` where a float is expected) or raises
:class:`RecipeError` naming the key, what was expected and what was found.
Framework-neutral: no torch, no TensorFlow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sepconv.errors import InputError

__all__ = ["Bound", "RecipeError", "Rule", "above", "at_least", "below_one", "between"]


class RecipeError(InputError):
    """A recipe (or a recipe value given as an option) is not acceptable; the message names the key."""


class Bound(NamedTuple):
    """A range check: ``test(value)`` must hold; ``text`` says what is expected (``"positive"``)."""

    test: Callable[[float], bool]
    text: str


def at_least(low: float) -> Bound:
    return Bound(lambda v: v >= low, f">= {low}")


def between(low: float, high: float, why: str) -> Bound:
    """``low <= value <= high``; ``why`` says where ``high`` comes from."""
    return Bound(lambda v: low <= v <= high, f"in [{low}, {high}] ({why})")


def above(low: float) -> Bound:
    return Bound(lambda v: v > low, "positive" if low == 0 else f"> {low}")


def below_one() -> Bound:
    return Bound(lambda v: 0 <= v < 1, "in [0, 1)")


#: PyYAML follows YAML 1.1, which reads ``1e-3`` (no dot) as a string; LightningCLI reads it as a float,
#: so a float key accepts such a string too, and both frameworks get the same number.
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

_KIND_TEXT = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


@dataclass(frozen=True)
class Rule:
    """One recipe key: ``name`` is ``section.key`` (``seed_everything`` at the top level)."""

    name: str
    kind: type  # bool, int, float or str
    bound: Bound | None = None
    choices: Sequence[str] = ()
    nullable: bool = False

    @property
    def section(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def key(self) -> str:
        return self.name.rpartition(".")[2]

    def _fail(self, value: Any, expected: str, label: str) -> RecipeError:
        found = "" if type(value) is self.kind or value is None else f" ({type(value).__name__})"
        return RecipeError(f"{label} must be {expected}, received {label}={value!r}{found}")

    def check(self, value: Any, label: str | None = None) -> Any:
        """``value`` if acceptable (widened ``int`` -> ``float``), else :class:`RecipeError`.

        ``label`` is how the key is named in the message (default :attr:`name`).
        """
        label = label or self.name
        if value is None:
            if self.nullable:
                return None
            raise self._fail(value, _KIND_TEXT[self.kind], label)
        expected = _KIND_TEXT[self.kind] + (" or null" if self.nullable else "")
        if self.kind is float and not isinstance(value, bool):
            if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
                value = float(value)
            if isinstance(value, int):
                value = float(value)
            if not isinstance(value, float) or not math.isfinite(value):
                raise self._fail(value, expected, label)
        elif not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            raise self._fail(value, expected, label)
        if self.choices and value not in self.choices:
            raise self._fail(value, "one of " + ", ".join(repr(c) for c in self.choices), label)
        if self.bound is not None and not self.bound.test(value):
            raise self._fail(value, self.bound.text, label)
        return value
