"""The departments a case card offers as one-click buttons: "Send to Billing · 71%".

A post the router was not sure of waits in the fallback queue (``triage``) with the model's
most likely departments in its rules (``triagebot.cases.suggestions``). While such a case is
active there, every surface offers the first ``OFFERED`` suggestions that name a configured
department (others are skipped, as are repeats and chances under 1%); a press is a Reassign
to that department (``ActionId.SUGGEST``), checked for freshness and permission like any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from triagebot.cases.records import FALLBACK_DEPARTMENT, Case
from triagebot.cases.suggestions import suggestions

OFFERED = 2
LABEL_LIMIT = 75  # characters of a button's text (Slack's limit; Teams titles alike)
MIN_PROBABILITY = 0.01  # a suggestion shown as "0%" would be no suggestion
_ANY = 50  # entries read from the rules before the filters (the router writes three)


@dataclass(frozen=True)
class Offer:
    """One suggested department, its display name and how likely the model thought it."""

    department: str
    name: str
    percent: int

    def label(self, clean: Callable[[str], str] = str, limit: int = LABEL_LIMIT) -> str:
        """``Send to <name> · <percent>%``, the name folded to one line by ``clean`` and cut so
        the whole label fits ``limit`` characters."""
        tail = f" · {self.percent}%"
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
    for suggestion in suggestions(case.rules, limit=_ANY):
        dept = suggestion.department
        if (
            dept == case.department
            or dept not in departments
            or suggestion.probability < MIN_PROBABILITY
            or any(o.department == dept for o in found)
        ):
            continue
        found.append(Offer(dept, departments[dept] or dept, suggestion.percent))
        if len(found) == limit:
            break
    return found
