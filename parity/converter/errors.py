"""The converter's errors: a refused weight transfer (with one record per mismatch) and a refused file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from parity.converter.mapping import Row

__all__ = ["Mismatch", "MismatchKind", "Side", "WeightFileError", "WeightMismatchError"]

MismatchKind = Literal["missing", "unexpected", "shape", "dtype"]
Side = Literal["source", "target"]


@dataclass(frozen=True)
class Mismatch:
    """One problem found while validating a transfer, on one side (``source`` or ``target``).

    ``row`` is the mapping row it belongs to (``None`` for an ``unexpected`` weight, which belongs to no
    row); ``layer`` and ``weight`` are the model's own names (a Keras layer and weight name, or a
    PyTorch module path and parameter name; ``None`` when nothing was found); ``label`` says the same in
    words and ``other`` is the label of the row's slot on the other side. ``expected_*`` is what the row
    (shape) or the target (dtype) requires, ``found_*`` what this side holds.
    """

    kind: MismatchKind
    side: Side
    row: Row | None
    layer: str | None
    weight: str | None
    expected_shape: tuple[int, ...] | None
    expected_dtype: str | None
    found_shape: tuple[int, ...] | None
    found_dtype: str | None
    label: str
    other: str = ""

    @property
    def spec_layer(self) -> str | None:
        """The architecture table's name of the layer (``dense1``), ``None`` for an unexpected weight."""
        return None if self.row is None else self.row.layer

    def describe(self) -> str:
        """One line: which weights, and what was expected against what was found."""
        if self.kind == "unexpected":
            found = "" if self.found_shape is None else f" {self.found_shape} {self.found_dtype}"
            return f"{self.side}: unexpected {self.label}{found}"
        src, dst = (self.label, self.other) if self.side == "source" else (self.other, self.label)
        assert self.row is not None
        where = f"{src} -> {dst} (spec {self.row.layer!r} {self.row.keras_weight})"
        if self.kind == "dtype":
            return (
                f"{where}: dtype {self.found_dtype} in the source, {self.expected_dtype} in the target "
                "(pass cast=True to convert)"
            )
        found = "nothing" if self.found_shape is None else str(self.found_shape)
        return f"{where}: expected {self.expected_shape}, found {found} in the {self.side}"


class WeightMismatchError(ValueError):
    """Source and target disagree with the mapping; nothing was assigned.

    ``mismatches`` holds one :class:`Mismatch` record per problem, *all* of them; ``problems`` the same as
    text lines. ``str(error)`` is a header and those lines.
    """

    def __init__(self, mismatches: Sequence[Mismatch], what: str = "weight transfer") -> None:
        self.mismatches: tuple[Mismatch, ...] = tuple(mismatches)
        self.what = what
        count = len(self.mismatches)
        header = f"{what}: {count} mismatch{'es' if count != 1 else ''}, nothing was assigned"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))

    @property
    def problems(self) -> tuple[str, ...]:
        """Each mismatch as one line of text."""
        return tuple(m.describe() for m in self.mismatches)

    def one_line(self) -> str:
        """The same report on one line (for a CLI's stderr)."""
        return f"{self.what}: " + "; ".join(self.problems)


class WeightFileError(ValueError):
    """A weight file that cannot be read or written; the message starts with the file's path."""
