"""``triagebot routing report``: how well routing did, measured from the team's corrections.

Per department: *precision* is the share of the labelled cases triage sent there that stayed
there (resolved without a reassignment, or reassigned back to it); *recall* the share of the
cases the team says belong there that triage sent there at ingest. A case routed to X and
reassigned to Y is a miss of X (precision) and of Y (recall); a case that went to the
fallback queue and was then handed to Y is a miss of Y only. The top confusions list the
(routed, label) pairs that differ, most frequent first. The auto-routed share counts every
case ingested in the period: routed by a rule or by the model, marked spam at ingest, or left
in the fallback queue for a person. Accuracy per week groups the labels by the week (Monday,
UTC) of the action that gave them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triagebot.cases.records import FALLBACK_DEPARTMENT
from triagebot.cases.time_fields import iso
from triagebot.routing.feedback import Label, LabelKind, read_labels, routed_by
from triagebot.store.base import Store

TOP_CONFUSIONS = 10


@dataclass(frozen=True)
class DepartmentFigures:
    department: str
    routed: int  # labelled cases triage sent here
    kept: int  # ... of which the team left here
    owned: int  # labelled cases the team says belong here
    found: int  # ... of which triage sent here

    @property
    def precision(self) -> float | None:
        return self.kept / self.routed if self.routed else None

    @property
    def recall(self) -> float | None:
        return self.found / self.owned if self.owned else None

    def to_dict(self) -> dict[str, object]:
        return {
            "routed": self.routed,
            "kept": self.kept,
            "owned": self.owned,
            "found": self.found,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class Week:
    start: datetime
    labels: int
    hits: int

    @property
    def accuracy(self) -> float | None:
        return self.hits / self.labels if self.labels else None


@dataclass(frozen=True)
class RoutingReport:
    since: datetime
    until: datetime
    cases: int
    how: dict[str, int]  # model / rules / spam / fallback -> cases ingested in the period
    labels: list[Label] = field(default_factory=list)
    departments: list[DepartmentFigures] = field(default_factory=list)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)

    @property
    def auto_routed(self) -> int:
        return self.cases - self.how.get("fallback", 0)

    @property
    def auto_share(self) -> float | None:
        return self.auto_routed / self.cases if self.cases else None

    @property
    def accuracy(self) -> float | None:
        return sum(lb.hit for lb in self.labels) / len(self.labels) if self.labels else None

    @property
    def corrections(self) -> int:
        return sum(lb.kind is LabelKind.CORRECTION for lb in self.labels)

    def to_dict(self) -> dict[str, object]:
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "cases": self.cases,
            "auto_routed": self.auto_routed,
            "auto_share": self.auto_share,
            "routed_by": dict(sorted(self.how.items())),
            "labels": len(self.labels),
            "corrections": self.corrections,
            "confirmations": len(self.labels) - self.corrections,
            "accuracy": self.accuracy,
            "departments": {d.department: d.to_dict() for d in self.departments},
            "confusions": [{"routed": r, "label": t, "cases": n} for r, t, n in self.confusions],
            "weeks": [
                {"week": w.start.date().isoformat(), "labels": w.labels, "accuracy": w.accuracy}
                for w in self.weeks
            ],
        }


def department_figures(
    labels: list[Label], fallback: str = FALLBACK_DEPARTMENT
) -> list[DepartmentFigures]:
    """One row per department seen in ``labels`` (the fallback queue is no department)."""
    names = sorted(({lb.routed for lb in labels} | {lb.department for lb in labels}) - {fallback})
    return [
        DepartmentFigures(
            name,
            sum(lb.routed == name for lb in labels),
            sum(lb.routed == name and lb.hit for lb in labels),
            sum(lb.department == name for lb in labels),
            sum(lb.department == name and lb.hit for lb in labels),
        )
        for name in names
    ]


def weekly(labels: list[Label]) -> list[Week]:
    weeks: dict[datetime, list[Label]] = {}
    for label in labels:
        day = label.at.replace(hour=0, minute=0, second=0, microsecond=0)
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(label)
    return [
        Week(start, len(found), sum(lb.hit for lb in found))
        for start, found in sorted(weeks.items())
    ]


def routing_report(
    store: Store, now: datetime, period: timedelta, fallback: str = FALLBACK_DEPARTMENT
) -> RoutingReport:
    """The figures of the cases ingested, and the labels given, in ``[now - period, now]``."""
    since, until = now - period, now + timedelta(microseconds=1)
    cases = store.list_cases(since=since, until=until)
    how = Counter(routed_by(case, fallback=fallback) for case in cases)  # no trail: cheaper
    labels = read_labels(store, since=since, until=until, fallback=fallback)
    misses = Counter((lb.routed, lb.department) for lb in labels if not lb.hit)
    confusions = [(r, t, n) for (r, t), n in misses.most_common(TOP_CONFUSIONS)]
    return RoutingReport(
        since,
        now,
        sum(how.values()),
        dict(how),
        labels,
        department_figures(labels, fallback),
        confusions,
        weekly(labels),
    )
