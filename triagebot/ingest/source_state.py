"""Per-source state: last success, last error, failures in a row, next run and typical lag.

The poller keeps one ``SourceState`` per source in memory and saves a copy in the store (as
the cursor of ``"<name>#status"``), so ``triagebot sources`` in another process can show what
the server's poller saw. Lag is the time from a post's publication to its fetch; the typical
lag is the median of the recent new posts, so a source that runs late shows.
"""

from __future__ import annotations

import json
import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from triagebot.cases.records import Case
from triagebot.cases.time_fields import iso, parse_iso
from triagebot.ingest.sources import SourceSpec

LAG_SAMPLES = 200


def status_key(name: str) -> str:
    """The cursor key under which a source's status is saved (``#`` never occurs in names)."""
    return f"{name}#status"


@dataclass
class SourceState:
    """What the poller knows about one source."""

    name: str
    kind: str
    interval: float
    enabled: bool = True
    problem: str | None = None
    missing: tuple[str, ...] = ()
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    next_run: datetime | None = None
    backoff_until: datetime | None = None
    backoff_reason: str | None = None
    partial: bool = False  # the last poll worked only in part (``last_error`` says what failed)
    last_fetched: int = 0
    last_new: int = 0
    total_new: int = 0
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=LAG_SAMPLES))

    @classmethod
    def initial(cls, spec: SourceSpec) -> SourceState:
        problem = spec.problem
        if problem is None and not spec.config.enabled:
            problem = "disabled in the configuration (enabled = false)"
        return cls(
            name=spec.name,
            kind=spec.config.type,
            interval=spec.config.interval.total_seconds(),
            enabled=spec.runnable,
            problem=problem,
            missing=spec.missing,
        )

    @property
    def typical_lag(self) -> float | None:
        """Median seconds from publication to fetch over the recent new posts."""
        return statistics.median(self.lags) if self.lags else None

    def record_lags(self, cases: Iterable[Case], fetched_at: datetime) -> None:
        for case in cases:
            self.lags.append(max(0.0, (fetched_at - case.mention.created_at).total_seconds()))

    def succeeded(self, at: datetime, fetched: int, new: int, partial: str | None = None) -> None:
        """A poll that worked; ``partial`` names what failed of it (one endpoint of several)."""
        self.last_success = at
        self.consecutive_failures = 0
        self.partial = partial is not None
        if partial is not None:
            self.last_error = partial
            self.last_error_at = at
        self.last_fetched = fetched
        self.last_new = new
        self.total_new += new

    def failed(self, at: datetime, message: str) -> None:
        self.last_error = message
        self.last_error_at = at
        self.consecutive_failures += 1

    @property
    def status(self) -> str:
        if not self.enabled:
            return "off"
        if self.consecutive_failures:
            return "failing"
        if self.partial:
            return "partial"
        if self.last_success is None:
            return "waiting"
        return "ok"

    def to_dict(self, *, lags: bool = True) -> dict[str, Any]:
        """The state as saved (``lags``: with the recent lags the typical one is the median
        of)."""
        data = {
            "name": self.name,
            "type": self.kind,
            "status": self.status,
            "interval_seconds": self.interval,
            "problem": self.problem,
            "missing": list(self.missing),
            "last_attempt": iso(self.last_attempt),
            "last_success": iso(self.last_success),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "consecutive_failures": self.consecutive_failures,
            "next_run": iso(self.next_run),
            "backoff_until": iso(self.backoff_until),
            "backoff_reason": self.backoff_reason,
            "last_fetched": self.last_fetched,
            "last_new": self.last_new,
            "total_new": self.total_new,
            "typical_lag_seconds": self.typical_lag,
        }
        if lags:
            data["lags"] = [round(lag, 1) for lag in self.lags]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceState:
        state = cls(
            name=str(data["name"]),
            kind=str(data.get("type", "")),
            interval=float(data.get("interval_seconds") or 0),
            enabled=data.get("status") != "off",
            partial=data.get("status") == "partial",
            problem=data.get("problem"),
            missing=tuple(data.get("missing") or ()),
            last_attempt=parse_iso(data.get("last_attempt")),
            last_success=parse_iso(data.get("last_success")),
            last_error=data.get("last_error"),
            last_error_at=parse_iso(data.get("last_error_at")),
            consecutive_failures=int(data.get("consecutive_failures") or 0),
            next_run=parse_iso(data.get("next_run")),
            backoff_until=parse_iso(data.get("backoff_until")),
            backoff_reason=data.get("backoff_reason"),
            last_fetched=int(data.get("last_fetched") or 0),
            last_new=int(data.get("last_new") or 0),
            total_new=int(data.get("total_new") or 0),
        )
        state.lags.extend(float(x) for x in data.get("lags") or ())
        return state


def load_state(text: str | None) -> SourceState | None:
    """A saved status, or None when there is none or it cannot be read."""
    if not text:
        return None
    try:
        return SourceState.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None


def lags_by_source(cases: Iterable[Case]) -> dict[str, float]:
    """Median publication-to-ingest time per source over ``cases``, in seconds."""
    samples: dict[str, list[float]] = {}
    for case in cases:
        lag = (case.ingested_at - case.mention.created_at) / timedelta(seconds=1)
        samples.setdefault(case.mention.source, []).append(max(0.0, lag))
    return {source: statistics.median(values) for source, values in samples.items()}


def format_age(now: datetime, at: datetime | None) -> str:
    """ "3m ago", "in 40s" or "-"."""
    if at is None:
        return "-"
    seconds = (now - at).total_seconds()
    text = format_span(abs(seconds))
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def format_span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
