"""A month of handled cases for ``triagebot demo``, so that ``sla``, the board's report and
its chart show real shapes on the first run.

The history is made of the bundled sample posts, re-stamped over the past 30 days with a
weekday rhythm, and handled the way a small team handles them: claimed after a while
(lognormal, a few breaches), answered in public (sent from triagebot, seen in the thread, or
marked answered), sometimes reassigned, resolved, some marked as spam. Due times come from
the configured SLA policy, so met and breached are the configuration's own. Everything is
stored through the store's API with its events; it is made once, when the store holds no
case older than a day.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta

from triagebot.actions.executor import SettingsPolicy
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.records import (
    FALLBACK_DEPARTMENT,
    Assignment,
    Case,
    CaseEvent,
    CaseState,
    Mention,
    NewCase,
    Priority,
)
from triagebot.config.settings import Settings
from triagebot.store.base import Store

DAYS = 30
STAFF = ("ana", "ben", "chloe")
#: Cases on a weekday and on a weekend day (before the random spread).
WEEKDAY_CASES, WEEKEND_CASES = 34, 12
_PRIORITIES = ((Priority.P1, 0.12), (Priority.P2, 0.6), (Priority.P3, 0.28))


def needs_history(store: Store, now: datetime) -> bool:
    """True when the store holds no case older than a day (a first demo run)."""
    older = store.list_cases(since=now - timedelta(days=DAYS + 5), until=now - timedelta(days=1))
    return not older


def _minutes(rng: random.Random, median: float, spread: float = 0.9) -> timedelta:
    return timedelta(minutes=median * math.exp(rng.gauss(0.0, spread)))


def _event(case: Case, action: str, actor: Identity, at: datetime, **after: object) -> CaseEvent:
    return CaseEvent(
        case_id=case.id, action=action, actor=actor, surface="board", at=at, version=1,
        after=dict(after),
    )  # fmt: skip


class HistoryMaker:
    """Makes the handled cases of one day after another."""

    def __init__(self, settings: Settings, samples: list[Mention], seed: int | None) -> None:
        self.settings = settings
        self.policy = SettingsPolicy(settings)
        self.samples = samples
        self.rng = random.Random(seed)
        self.departments = [d for d in settings.departments if d != FALLBACK_DEPARTMENT]

    def cases_of_day(self, day: datetime) -> list[datetime]:
        """Ingest times of one day's cases, most in the afternoon of the brand's customers."""
        base = WEEKDAY_CASES if day.weekday() < 5 else WEEKEND_CASES
        count = max(0, round(self.rng.gauss(base, base * 0.25)))
        return sorted(
            day + timedelta(hours=min(23.9, max(0.0, self.rng.gauss(15.0, 3.5))))
            for _ in range(count)
        )

    def make(self, case_id: str, number: int, at: datetime) -> NewCase:
        rng = self.rng
        sample = rng.choice(self.samples)
        mention = replace(
            sample,
            id=f"demo-history:{number}",
            url=f"{sample.url}?h={number}",
            created_at=at - _minutes(rng, 4, 0.6),
        )
        priority = rng.choices([p for p, _ in _PRIORITIES], [w for _, w in _PRIORITIES])[0]
        department = rng.choice(self.departments)
        claim_due, resolve_due = self.policy.due_times(priority, department, at)
        case = Case(
            id=case_id, mention=mention, department=department, priority=priority,
            state=CaseState.OPEN, ingested_at=at, claim_due=claim_due, resolve_due=resolve_due,
            respond_due=self.policy.respond_due(priority, department, at),
            assignments=(Assignment(department, at),),
        )  # fmt: skip
        if rng.random() < 0.05:
            return self._spam(case)
        return self._handled(case)

    def _spam(self, case: Case) -> NewCase:
        who = Identity("board", self.rng.choice(STAFF))
        at = case.ingested_at + _minutes(self.rng, 30)
        closed = replace(
            case, state=CaseState.SPAM, resolved_by=who, resolved_at=at, version=2, updated_at=at,
            assignments=(Assignment(case.department, case.ingested_at, at),),
        )  # fmt: skip
        return NewCase(closed, (_event(closed, "spam", who, at, state="spam"),))

    def _handled(self, case: Case) -> NewCase:
        rng = self.rng
        who = Identity("board", rng.choice(STAFF))
        slow = 2.5 if case.ingested_at.weekday() >= 5 or case.ingested_at.hour >= 18 else 1.0
        claimed = case.ingested_at + _minutes(rng, 18 * slow)
        events = []
        department, assignments = case.department, list(case.assignments)
        if rng.random() < 0.08:  # routed to the wrong desk first
            moved = rng.choice([d for d in self.departments if d != department])
            at = case.ingested_at + _minutes(rng, 10)
            assignments = [Assignment(department, case.ingested_at, at), Assignment(moved, at)]
            reassign = _event(case, "reassign", who, at, department=moved)
            events.append(replace(reassign, before={"department": department}))
            department = moved
            claimed = max(claimed, at + _minutes(rng, 8))
        answered = claimed + _minutes(rng, 22 * slow)
        via = rng.choices(list(ResponseVia), [0.6, 0.3, 0.1])[0]
        by = (
            f"@{rng.choice(('northwind', 'northwind_support'))}"
            if via is ResponseVia.THREAD
            else str(who)
        )
        resolved = answered + _minutes(rng, 240 * slow, 1.1)
        closed_assignments = [*assignments[:-1], replace(assignments[-1], until=resolved)]
        done = replace(
            case, department=department, state=CaseState.RESOLVED, claimed_by=who,
            claimed_at=claimed, first_claimed_at=claimed, resolved_by=who, resolved_at=resolved,
            first_response=FirstResponse(answered, by, via, None), version=len(events) + 4,
            updated_at=resolved, assignments=tuple(closed_assignments),
        )  # fmt: skip
        events += [
            _event(done, "claim", who, claimed, state="claimed"),
            _event(done, "reply" if via is ResponseVia.REPLY else "public_response", who, answered),
            _event(done, "resolve", who, resolved, state="resolved"),
        ]
        stamped = tuple(replace(e, version=i + 2) for i, e in enumerate(events))
        return NewCase(done, stamped)


def make_history(
    store: Store, settings: Settings, samples: list[Mention], now: datetime, seed: int | None
) -> int:
    """Store a month of handled cases ending a day before ``now``; the number stored."""
    maker = HistoryMaker(settings, samples, seed)
    start = (now - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    times = [
        at
        for day in range(DAYS)
        for at in maker.cases_of_day(start + timedelta(days=day))
        if at < now - timedelta(days=1)
    ]
    ids = store.next_case_ids(len(times))
    made = [
        maker.make(case_id, n, at) for n, (case_id, at) in enumerate(zip(ids, times, strict=True))
    ]
    for first in range(0, len(made), 500):
        store.add_cases(made[first : first + 500])
    return len(made)
