"""``triagebot rules backtest``: what the rules on disk would change on stored cases.

Each stored case of the period is routed again. Three labels are compared: how it was
routed at ingest (its first assignment, or ``spam`` if triage marked it so), how the rules
on disk would route it now, and where it finally ended (its current department after any
reassignment, or ``spam`` if it is in state spam): the final place is the ground truth.
A case *moves* when the new label differs from the old one; a move *fixes* it when the new
label is the truth and the old was not, and *breaks* it in the opposite case.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triagebot.cases.lifecycle import SYSTEM_ACTOR
from triagebot.cases.records import Case, CaseState
from triagebot.routing.router import Router
from triagebot.store.base import Store

SPAM = "spam"


@dataclass
class Tally:
    """Moves, fixes and breaks for one department or rule."""

    cases: int = 0
    moved: int = 0
    fixed: int = 0
    broken: int = 0

    def add(self, old: str, new: str, truth: str) -> None:
        self.cases += 1
        if old != new:
            self.moved += 1
            self.fixed += new == truth and old != truth
            self.broken += old == truth and new != truth

    def to_dict(self) -> dict[str, int]:
        return {
            "cases": self.cases,
            "moved": self.moved,
            "fixed": self.fixed,
            "broken": self.broken,
        }


@dataclass
class DepartmentTally:
    """Cases a department had before and would have now; moves in and out."""

    before: int = 0
    after: int = 0
    moved_in: int = 0
    moved_out: int = 0
    fixed: int = 0  # moved in, and this is where they ended
    broken: int = 0  # moved out, though this is where they ended

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Backtest:
    """The result: totals, per department (of the new routing) and per rule."""

    total: Tally = field(default_factory=Tally)
    old_correct: int = 0
    new_correct: int = 0
    departments: dict[str, DepartmentTally] = field(default_factory=dict)
    rules: dict[str, Tally] = field(default_factory=dict)
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, object]:
        return {
            "cases": self.total.cases,
            "moved": self.total.moved,
            "fixed": self.total.fixed,
            "broken": self.total.broken,
            "accuracy_before": self.old_correct / self.total.cases if self.total.cases else None,
            "accuracy_after": self.new_correct / self.total.cases if self.total.cases else None,
            "departments": {d: t.to_dict() for d, t in sorted(self.departments.items())},
            "rules": {r: t.to_dict() for r, t in sorted(self.rules.items())},
            "moves": [
                {"from": old, "to": new, "cases": n} for (old, new), n in self.moves.most_common()
            ],
        }


def routed_at_ingest(case: Case) -> str:
    """The label triage gave the case when it was stored."""
    if case.state is CaseState.SPAM and case.resolved_by == SYSTEM_ACTOR:
        return SPAM
    return case.assignments[0].department if case.assignments else case.department


def final_label(case: Case) -> str:
    """Where the case ended: the ground truth."""
    return SPAM if case.state is CaseState.SPAM else case.department


def backtest(store: Store, router: Router, now: datetime, period: timedelta) -> Backtest:
    """Route the cases ingested in ``[now - period, now)`` again and compare."""
    result = Backtest()
    for case in store.list_cases(since=now - period, until=now):
        routing = router.route(case.mention)
        old, truth = routed_at_ingest(case), final_label(case)
        new = SPAM if routing.spam else routing.department
        result.total.add(old, new, truth)
        result.old_correct += old == truth
        result.new_correct += new == truth
        _count_departments(result.departments, old, new, truth)
        if new != old:
            result.moves[(old, new)] += 1
        for rule_id in set(routing.rules) | set(case.rules):
            result.rules.setdefault(rule_id, Tally()).add(old, new, truth)
    return result


def _count_departments(tallies: dict[str, DepartmentTally], old: str, new: str, truth: str) -> None:
    before, after = (
        tallies.setdefault(old, DepartmentTally()),
        tallies.setdefault(new, DepartmentTally()),
    )
    before.before += 1
    after.after += 1
    if old != new:
        before.moved_out += 1
        after.moved_in += 1
        after.fixed += new == truth
        before.broken += old == truth
