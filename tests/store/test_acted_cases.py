"""``acted_cases``: the cases an action happened to in a time window, with their trails."""

from __future__ import annotations

from datetime import timedelta

from tests.store.builders import T0, make_event, make_new, moved
from tests.store.conftest import Opener
from triagebot.cases.records import CaseState
from triagebot.store.base import Store


def _act(store: Store, case_id: str, state: CaseState, action: str, minutes: int) -> None:
    case = store.get_case(case_id)
    at = T0 + timedelta(minutes=minutes)
    nxt = moved(case, state, at=at)
    store.save_case(nxt, case.version, [make_event(nxt, action, actor="ana", surface="cli", at=at)])


def _history(store: Store) -> None:
    """Eight cases: some resolved early, some reassigned (no state change) late, some spam."""
    store.add_cases([make_new(str(n), ingested_at=T0) for n in range(1, 9)])
    for n in (1, 2, 3):  # closed early: in the first history segment of the embedded store
        _act(store, str(n), CaseState.RESOLVED, "resolve", 10 + n)
    _act(store, "4", CaseState.OPEN, "reassign", 100)
    _act(store, "4", CaseState.CLAIMED, "claim", 110)
    _act(store, "4", CaseState.OPEN, "reassign", 120)
    _act(store, "5", CaseState.SPAM, "spam", 130)
    _act(store, "6", CaseState.RESOLVED, "resolve", 140)
    _act(store, "7", CaseState.CLAIMED, "claim", 150)


def test_every_matching_case_with_its_events_in_time_order(store: Store) -> None:
    _history(store)
    found = store.acted_cases(["resolve", "reassign", "spam"])
    assert [c.id for c, _ in found] == ["1", "2", "3", "4", "5", "6"]
    case4, events4 = found[3]
    assert [e.action for e in events4] == ["created", "reassign", "claim", "reassign"]
    assert case4.state is CaseState.OPEN
    assert found[4][0].state is CaseState.SPAM


def test_window_is_half_open_and_skips_older_actions(store: Store) -> None:
    _history(store)
    since, until = T0 + timedelta(minutes=120), T0 + timedelta(minutes=140)
    found = store.acted_cases(["resolve", "reassign", "spam"], since=since, until=until)
    assert [(c.id, len(ev)) for c, ev in found] == [("4", 4), ("5", 2)]


def test_only_the_actions_asked_for(store: Store) -> None:
    _history(store)
    assert [c.id for c, _ in store.acted_cases(["claim"])] == ["4", "7"]
    assert store.acted_cases(["merge"]) == []
    assert store.acted_cases([]) == []


def test_a_closed_case_found_by_another_connection(open_store: Opener) -> None:
    writer = open_store()
    _history(writer)
    reader = open_store()
    found = reader.acted_cases(["resolve"], since=T0 + timedelta(minutes=12))
    assert [c.id for c, _ in found] == ["2", "3", "6"]


def test_bounds_with_and_without_microseconds(store: Store) -> None:
    """Times are kept as ISO text; whole seconds and fractions still compare as times."""
    store.add_cases([make_new("1"), make_new("2")])
    exact = T0 + timedelta(minutes=10)
    for case_id, at in (("1", exact), ("2", exact + timedelta(milliseconds=500))):
        case = store.get_case(case_id)
        nxt = moved(case, CaseState.RESOLVED, at=at)
        store.save_case(nxt, 1, [make_event(nxt, "resolve", actor="ana", surface="cli", at=at)])
    tiny = timedelta(microseconds=1)
    assert [c.id for c, _ in store.acted_cases(["resolve"], since=exact)] == ["1", "2"]
    assert [c.id for c, _ in store.acted_cases(["resolve"], since=exact + tiny)] == ["2"]
    assert [c.id for c, _ in store.acted_cases(["resolve"], until=exact + tiny)] == ["1"]
    assert store.acted_cases(["resolve"], until=exact) == []
