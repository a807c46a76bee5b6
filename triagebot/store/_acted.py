"""Finding the cases a kind of event happened to, in stored case documents (embedded store).

Both halves of ``acted_cases`` for the TinyDB store: which events of a document match, and
which history segments can hold a match at all. A closed case's events all happened by the
time it was closed, so a segment whose every case was closed before ``since`` (its facts file
says so) is not opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from triagebot.cases.facts import SlaFacts, to_us
from triagebot.cases.records import JSON, CaseEvent
from triagebot.cases.time_fields import parse_iso, utc


class EventFilter:
    """Events whose action is one of ``actions`` and whose time is in ``[since, until)``."""

    def __init__(
        self, actions: Iterable[str], since: datetime | None, until: datetime | None
    ) -> None:
        self.actions = frozenset(actions)
        self.since = None if since is None else utc(since)
        self.until = None if until is None else utc(until)

    def first_match(self, doc: JSON) -> datetime | None:
        """The time of the first matching event of one case document, or None."""
        for raw in doc.get("events", ()):
            if raw.get("action") not in self.actions:
                continue
            at = parse_iso(raw.get("at"))
            if at is None or (self.since is not None and at < self.since):
                continue
            if self.until is not None and at >= self.until:
                continue
            return at
        return None

    @staticmethod
    def trail(doc: JSON) -> list[CaseEvent]:
        return [CaseEvent.from_dict(raw) for raw in doc.get("events", ())]

    def segment_may_match(self, facts: list[SlaFacts] | None, first_ingested: datetime) -> bool:
        """False when no case of a history segment can have a matching event."""
        if self.until is not None and utc(first_ingested) >= self.until:
            return False
        if self.since is None or facts is None:
            return True
        low = to_us(self.since)
        return any(f.resolved_us is None or f.resolved_us >= low for f in facts)
