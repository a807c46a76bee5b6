"""The departments the router suggests for a case, carried in its ``rules``.

The router records why it routed a post in ``Case.rules``; a post it was not sure enough of
carries up to three ``suggest:<department>=<probability>`` entries (most likely first), and a
post it routed on the model's word a ``model:<department>=<probability>`` entry. Cards show
the suggestions as one-click buttons ("Send to Billing · 71%"); the click is a reassign.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SUGGEST = "suggest:"
MODEL = "model:"


@dataclass(frozen=True)
class Suggestion:
    """A department and how likely the model thinks it owns the post (0..1)."""

    department: str
    probability: float

    def entry(self, prefix: str = SUGGEST) -> str:
        return f"{prefix}{self.department}={self.probability:.2f}"

    @property
    def percent(self) -> int:
        return round(self.probability * 100)


def _parse(entry: str, prefix: str) -> Suggestion | None:
    department, sep, value = entry[len(prefix) :].partition("=")
    if not department or not sep:
        return None
    try:
        probability = float(value)
    except ValueError:
        return None
    if not 0.0 <= probability <= 1.0:
        return None
    return Suggestion(department, probability)


def suggestions(rules: Iterable[str], limit: int = 2) -> list[Suggestion]:
    """The suggested departments in ``rules``, most likely first, at most ``limit``."""
    found = [s for r in rules if r.startswith(SUGGEST) and (s := _parse(r, SUGGEST)) is not None]
    return found[:limit]


def model_choice(rules: Iterable[str]) -> Suggestion | None:
    """The department the model routed to, with its probability, if it did."""
    for entry in rules:
        if entry.startswith(MODEL):
            return _parse(entry, MODEL)
    return None
