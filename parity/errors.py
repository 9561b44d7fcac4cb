"""The one error a failed weight transfer raises, listing every problem found."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["WeightMismatchError"]


class WeightMismatchError(ValueError):
    """Source and target disagree with the mapping; nothing was assigned.

    ``problems`` holds one line per mismatch (source layer and weight, target
    layer and weight, expected and found shape), *all* of them, plus missing and
    unexpected weights or layers. ``str(error)`` is a header and those lines.
    """

    def __init__(self, problems: Sequence[str], what: str = "weight transfer") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.what = what
        count = len(self.problems)
        header = f"{what}: {count} mismatch{'es' if count != 1 else ''}, nothing was assigned"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))

    def one_line(self) -> str:
        """The same report on one line (for a CLI's stderr)."""
        return f"{self.what}: " + "; ".join(self.problems)
