"""The departments a case card offers as one-click buttons: "Send to Billing · 71%".

A post the router was not sure of waits in the fallback queue (``triage``) with the model's
most likely departments in its rules (``triagebot.cases.suggestions``). While such a case is
active there, every surface offers the first ``OFFERED`` suggestions that name a configured
department (others are skipped, as are repeats and chances under 1%); a press is a Reassign
to that department (``ActionId.SUGGEST``), checked for freshness and permission like any.
Without the department model the older classifier writes ``suggest:<department>`` with no
probability: that is offered too, labelled without a percentage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from triagebot.cases.records import FALLBACK_DEPARTMENT, Case
from triagebot.cases.suggestions import SUGGEST, suggestions

OFFERED = 2
LABEL_LIMIT = 75  # characters of a button's text (Slack's limit; Teams titles alike)
MIN_PROBABILITY = 0.01  # a suggestion shown as "0%" would be no suggestion


@dataclass(frozen=True)
class Offer:
    """One suggested department, its display name and how likely the model thought it."""

    department: str
    name: str
    percent: int | None  # None: the older classifier's guess, which has no probability

    def label(self, clean: Callable[[str], str] = str, limit: int = LABEL_LIMIT) -> str:
        """``Send to <name> · <percent>%``, the name folded to one line by ``clean`` and cut so
        the whole label fits ``limit`` characters."""
        tail = f" · {self.percent}%" if self.percent is not None else ""
        room = max(1, limit - len("Send to ") - len(tail))
        name = " ".join(clean(self.name).split()) or self.department
        if len(name) > room:
            name = name[: room - 1].rstrip() + "…"
        return f"Send to {name}{tail}"


def offers(case: Case, departments: Mapping[str, str], limit: int = OFFERED) -> list[Offer]:
    """The suggestions ``case``'s card shows (``departments``: id -> display name)."""
    if case.department != FALLBACK_DEPARTMENT or not case.is_active:
        return []
    found: list[Offer] = []
    for entry in case.rules:
        read = _suggested(entry)
        if read is None:
            continue
        dept, percent = read
        if (
            dept == case.department
            or dept not in departments
            or any(o.department == dept for o in found)
        ):
            continue
        found.append(Offer(dept, departments[dept] or dept, percent))
        if len(found) == limit:
            break
    return found


def _suggested(entry: str) -> tuple[str, int | None] | None:
    """(department, percent) of a ``suggest:`` entry worth a button, else None."""
    if not entry.startswith(SUGGEST):
        return None
    if "=" not in entry:  # the older classifier's guess
        return (entry[len(SUGGEST) :], None) if len(entry) > len(SUGGEST) else None
    parsed = suggestions([entry], limit=1)
    if not parsed or parsed[0].probability < MIN_PROBABILITY:
        return None
    return parsed[0].department, parsed[0].percent
