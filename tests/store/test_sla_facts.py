"""Contract: the SLA facts a store keeps give the same summary as the cases it lists, and the
cross-post candidates include every active case that shares a key with the batch."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tests.store.builders import T0, make_case, make_new, varied_case
from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.facts import crosspost_keys, sla_facts
from triagebot.cases.identities import Identity
from triagebot.cases.records import ACTIVE_STATES, Author, Case, CaseState, NewCase
from triagebot.reports.comparison import worst_open, worst_open_facts
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.period import summarize
from triagebot.sla.summary import summarize_windows
from triagebot.store.base import Store

CALENDARS = {
    "support": BusinessCalendar("America/New_York", "Mon-Fri 09:00-17:00", "US"),
    "billing": BusinessCalendar("UTC", "24/7"),
    "shipping": BusinessCalendar("Europe/Berlin", "Mon-Fri 08:00-12:00,13:00-17:30", "DE-BY"),
}
NOW = T0 + timedelta(days=12, hours=5, microseconds=321)


def _fill(store: Store, count: int = 60, seed: int = 5) -> list[Case]:
    """Cases added in two batches; some then change through compare-and-set."""
    rng = random.Random(seed)
    cases = [varied_case(rng, n) for n in range(1, count + 1)]
    half = count // 2
    assert all(store.add_cases([NewCase(c) for c in cases[:half]]))
    opened = [
        replace(c, state=CaseState.OPEN, resolved_at=None, resolved_by=None) for c in cases[half:]
    ]
    assert all(store.add_cases([NewCase(c) for c in opened]))
    for case, old in zip(cases[half:], opened, strict=True):
        if case != old:
            store.save_case(replace(case, version=old.version + 1), old.version)
    return [store.get_case(c.id) for c in cases]


def _same_facts(store: Store, **filters: object) -> None:
    listed = store.list_cases(**filters)  # type: ignore[arg-type]
    facts = store.sla_facts(**filters)  # type: ignore[arg-type]
    assert sorted(facts) == sorted(sla_facts(c) for c in listed)


def test_sla_facts_are_those_of_the_listed_cases(store: Store) -> None:
    _fill(store)
    _same_facts(store)
    _same_facts(store, since=T0 + timedelta(days=3), until=T0 + timedelta(days=8))
    _same_facts(store, department="support")
    _same_facts(store, department="billing", since=T0 + timedelta(days=6))
    assert store.sla_facts(since=NOW) == []


def test_summary_from_the_facts_equals_the_summary_of_the_cases(store: Store) -> None:
    _fill(store, count=120, seed=9)
    windows = [
        (T0, NOW),
        (T0 + timedelta(days=5, seconds=7), NOW),
        (T0 + timedelta(days=1), T0 + timedelta(days=5, seconds=7)),
    ]
    for department in (None, "shipping"):
        facts = store.sla_facts(since=T0, until=NOW, department=department)
        from_facts = summarize_windows(facts, CALENDARS.__getitem__, NOW, windows)
        cases = store.list_cases(since=T0, until=NOW, department=department)
        for (since, until), summary in zip(windows, from_facts, strict=True):
            from_cases = summarize(cases, CALENDARS.__getitem__, NOW, since, until)
            assert summary == from_cases
            assert summary.to_dict() == from_cases.to_dict()
        assert from_facts[0].total.count == len(cases)
    assert from_facts[0].by_person  # the data has claims, so people show up
    respond = from_facts[0].total.respond  # answers on time and late, waits on the customer
    assert respond.n and respond.met and respond.breaches


def test_sla_facts_follow_every_change(store: Store) -> None:
    case = make_case("1", state=CaseState.OPEN)
    store.add_cases([NewCase(case)])
    claimed = replace(
        case,
        state=CaseState.CLAIMED,
        version=2,
        claimed_by=Identity("slack", "U0ANA"),
        first_claimed_at=T0,
    )
    store.save_case(claimed, 1)
    moved = replace(claimed, department="billing", version=3)
    store.save_case(moved, 2)
    assert store.sla_facts() == [sla_facts(moved)]
    answer = FirstResponse(T0 + timedelta(hours=1), "@northwind", ResponseVia.THREAD)
    answered = replace(
        moved, version=4, respond_due=T0 + timedelta(hours=4), first_response=answer,
        waiting_since=answer.at,
    )  # fmt: skip
    store.save_case(answered, 3)
    facts = store.sla_facts()
    assert facts == [sla_facts(answered)]
    assert facts[0].first_response_us is not None and facts[0].waiting_since_us is not None
    moved = answered
    done = replace(
        moved,
        state=CaseState.RESOLVED,
        version=5,
        resolved_at=NOW,
        resolved_by=Identity("cli", "bo"),
    )
    store.save_case(done, 4)
    assert store.sla_facts() == [sla_facts(done)]
    assert store.sla_facts()[0].person == "slack:U0ANA"


# --- cross-post candidates ---------------------------------------------------------------------
def _posted(case_id: str, url: str, handle: str, at: datetime, **changes: object) -> NewCase:
    new = make_new(case_id, ingested_at=at, **changes)
    mention = replace(new.case.mention, url=url, author=Author(handle))
    return replace(new, case=replace(new.case, mention=mention))


@pytest.fixture
def posted(store: Store) -> Store:
    day = timedelta(days=1)
    store.add_cases(
        [
            _posted("1", "https://www.reddit.com/r/a/comments/abc1/x/", "mo", T0),
            _posted("2", "https://example.com/b", "@Hikes_With_Mo", T0 + day),
            _posted("3", "https://example.com/c", "lena", T0 + day),
            _posted("4", "https://example.com/d?utm_source=x", "kim", T0 + 2 * day),
            _posted("5", "https://example.com/e", "kim", T0 + 2 * day, state=CaseState.RESOLVED),
            _posted("6", "https://example.com/f", "unknown", T0 + 2 * day),
            _posted("7", "https://example.com/g", "news.example.com", T0 + 2 * day),
        ]
    )
    seen = store.get_case("3")
    store.save_case(
        replace(seen, version=2, also_on=("https://m.example.com/seen-too",)), seen.version
    )
    return store


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def test_candidates_by_link_and_author(posted: Store) -> None:
    found = posted.crosspost_candidates(
        {"https://reddit.com/comments/abc1", "https://example.com/d"}, {"hikeswithmo"}, T0
    )
    assert {"1", "2", "4"} <= set(_ids(found))
    everything = posted.list_cases(states=ACTIVE_STATES, since=T0)
    assert _ids(found) == [c.id for c in everything if c.id in set(_ids(found))]
    for case in found:
        assert case == posted.get_case(case.id)


def test_candidates_use_the_links_seen_since_and_skip_closed_and_old(posted: Store) -> None:
    keys = crosspost_keys(posted.get_case("3"))
    assert "example.com/seen-too" in " ".join(keys.urls)
    assert "3" in _ids(posted.crosspost_candidates(keys.urls, set(), T0))
    assert "5" not in _ids(posted.crosspost_candidates({"https://example.com/e"}, {"kim"}, T0))
    later = posted.crosspost_candidates(set(), {"mo", "hikeswithmo"}, T0 + timedelta(hours=1))
    assert "1" not in _ids(later)
    assert "2" in _ids(later)


def test_candidates_never_match_empty_keys(posted: Store) -> None:
    found = posted.crosspost_candidates(set(), {""}, T0)
    assert not {"6", "7"} & set(_ids(found))


def test_facts_by_state_and_the_worst_open_cases_from_them(store: Store) -> None:
    _fill(store, count=80, seed=11)
    for states in ([CaseState.OPEN, CaseState.NEW, CaseState.CLAIMED], [CaseState.RESOLVED], []):
        _same_facts(store, states=states)
    _same_facts(store, states=ACTIVE_STATES, department="billing")
    active = store.list_cases(states=ACTIVE_STATES)
    facts = store.sla_facts(states=ACTIVE_STATES)
    for count in (3, 100):
        expected = worst_open(active, CALENDARS.__getitem__, NOW, count)
        found = worst_open_facts(facts, CALENDARS.__getitem__, NOW, store.get_case, count)
        assert found == expected
    assert len(found) == len(active) > 3
