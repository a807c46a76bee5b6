"""The SLA summary of one period, from cases or their stored facts.

The column maths lives in ``triagebot.sla.summary`` and loads numpy, so it is imported on the
first summary, not when this module is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from triagebot.cases.facts import SlaFacts, sla_facts
from triagebot.cases.records import Case
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.figures import Summary


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
    from triagebot.sla.summary import summarize_windows  # noqa: PLC0415 (loads numpy)

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
