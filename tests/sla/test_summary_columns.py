"""The SLA summary in plain Python and on numpy columns (used from ``COLUMNS_FROM`` cases on)
give the same figures, float for float."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.sla.test_clocks_and_summary import CALENDARS, answered, make_case, mon
from triagebot.cases.facts import SlaFacts, sla_facts
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState, Priority
from triagebot.sla import summary
from triagebot.sla.summary_columns import summaries

PEOPLE = [Identity("cli", "ana"), Identity("slack", "U0ANA"), Identity("cli", "bo")]


def _facts(count: int, seed: int) -> list[SlaFacts]:
    rng = random.Random(seed)
    facts = []
    for n in range(count):
        ingested = mon(0, days=rng.randint(-20, 6)) + timedelta(seconds=rng.randint(0, 10**5))
        claimed = ingested + timedelta(seconds=rng.randint(-1000, 10**5))
        state = rng.choice(list(CaseState))
        answer = ingested + timedelta(seconds=rng.randint(-1000, 10**5))
        who = rng.choice(PEOPLE)
        case = make_case(
            f"c{n}",
            department=rng.choice(["support", "billing"]),
            priority=rng.choice(list(Priority)),
            ingested=ingested,
            source=rng.choice(["reddit", "x", "mastodon"]),
            lag=timedelta(seconds=rng.randint(-10, 10**4)),
            state=state,
            first_claimed_at=claimed if n % 3 else None,
            claimed_by=who if n % 3 and state is not CaseState.OPEN else None,
            resolved_at=claimed + timedelta(seconds=rng.randint(0, 10**5))
            if state.is_closed
            else None,
            first_response=answered(answer) if n % 4 else None,
            waiting_since=answer + timedelta(seconds=rng.randint(0, 10**5)) if n % 5 else None,
        )
        facts.append(sla_facts(case))
    return facts


@pytest.mark.parametrize("seed", [1, 2])
def test_plain_and_column_summaries_are_the_same(seed: int) -> None:
    facts = _facts(1500, seed)
    now = mon(12, days=6)
    windows = [
        (mon(0, days=-20), now),
        (mon(0, days=-1), now),
        (mon(0, days=-8), mon(0, days=-1)),
        (mon(0, days=30), mon(0, days=31)),  # nothing in it
    ]

    def person_of(who: str) -> str:
        return "Ana" if who in {"cli:ana", "slack:U0ANA"} else who

    for grouping in (None, person_of):
        plain = summary.summarize_windows(facts, CALENDARS.__getitem__, now, windows, grouping)
        columns = summaries(list(facts), CALENDARS.__getitem__, now, windows, grouping)
        assert plain == columns
        assert plain[0].total.count > 1000 and plain[0].by_person and not plain[3].by_source
        assert plain[0].total.resolve.breaches and plain[0].total.respond.met
    assert len(facts) < summary.COLUMNS_FROM  # the plain one was measured above
