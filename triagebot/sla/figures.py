"""SLA figures of a group of cases: the statistics types and the percentile they use.

Percentiles interpolate linearly between the closest ranks (the same as
``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from triagebot.cases.records import CaseState
from triagebot.cases.time_fields import iso


class Ordered(Protocol):
    """Sorted numbers."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


def percentile(ordered: Ordered, q: float) -> float | None:
    """Linear interpolation between closest ranks of sorted values; None for no values."""
    if len(ordered) == 0:
        return None
    position = q * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return float(ordered[-1])
    return float(ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low))


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class TargetStats:
    """One target (claim, respond or resolve) of a group: timings in seconds and the SLA
    outcome."""

    n: int = 0
    median_business: float | None = None
    p90_business: float | None = None
    median_wall: float | None = None
    p90_wall: float | None = None
    met: int = 0
    breaches: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.breaches

    @property
    def within_sla(self) -> float | None:
        """Share of decided cases that met the target; None when none is decided."""
        return self.met / self.decided if self.decided else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "median_business": _round(self.median_business),
            "p90_business": _round(self.p90_business),
            "median_wall": _round(self.median_wall),
            "p90_wall": _round(self.p90_wall),
            "within_sla": _round(self.within_sla, 4),
            "met": self.met,
            "breaches": self.breaches,
        }


@dataclass
class GroupStats:
    """Counts and timings of a group of cases; spam counts only in count/by_state/spam."""

    count: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in CaseState})
    spam: int = 0
    claim: TargetStats = field(default_factory=TargetStats)
    resolve: TargetStats = field(default_factory=TargetStats)
    #: The first public response (``Case.first_response``) against ``respond_due``.
    respond: TargetStats = field(default_factory=TargetStats)
    source_lag_median: float | None = None
    source_lag_p90: float | None = None

    @property
    def breaches(self) -> int:
        """Breached targets of the group: claim, respond and resolve together."""
        return self.claim.breaches + self.respond.breaches + self.resolve.breaches

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "by_state": dict(self.by_state),
            "spam": self.spam,
            "claim": self.claim.to_dict(),
            "resolve": self.resolve.to_dict(),
            "respond": self.respond.to_dict(),
            "source_lag_median": _round(self.source_lag_median),
            "source_lag_p90": _round(self.source_lag_p90),
        }


@dataclass
class Summary:
    """SLA figures for cases ingested in ``since <= ingested_at < until``."""

    since: datetime
    until: datetime
    total: GroupStats
    by_department: dict[str, GroupStats]
    by_person: dict[str, GroupStats]
    by_source: dict[str, GroupStats]
    by_priority: dict[str, GroupStats]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; seconds rounded to 0.1."""

        def table(groups: dict[str, GroupStats]) -> dict[str, Any]:
            return {key: stats.to_dict() for key, stats in groups.items()}

        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "total": self.total.to_dict(),
            "by_department": table(self.by_department),
            "by_person": table(self.by_person),
            "by_source": table(self.by_source),
            "by_priority": table(self.by_priority),
        }
