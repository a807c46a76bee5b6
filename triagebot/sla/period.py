"""The SLA summary of one period, from cases or their stored facts (the maths over many
cases lives in ``triagebot.sla.summary``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from triagebot.cases.facts import SlaFacts, sla_facts
from triagebot.cases.records import Case
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.figures import Summary
from triagebot.sla.summary import summarize_windows


def summarize_facts(
    facts: Iterable[SlaFacts],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    since: datetime,
    until: datetime,
    *,
    person_of: Callable[[str], str] | None = None,
) -> Summary:
    """SLA figures for the cases (as ``SlaFacts``) ingested in ``since <= ingested_at < until``."""
    return summarize_windows(facts, calendar_for, now, [(since, until)], person_of)[0]


def summarize(
    cases: Iterable[Case],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    since: datetime,
    until: datetime,
    *,
    person_of: Callable[[str], str] | None = None,
) -> Summary:
    """SLA figures for the cases ingested in ``since <= ingested_at < until``.

    Business times use the calendar of each case's current department; ``person_of`` as in
    ``summarize_windows``.
    """
    facts = map(sla_facts, cases)
    return summarize_facts(facts, calendar_for, now, since, until, person_of=person_of)
