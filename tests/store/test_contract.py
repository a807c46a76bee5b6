"""The Store contract, checked the same way against every store implementation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.store.builders import (
    T0,
    make_case,
    make_event,
    make_mention,
    make_new,
    make_outbox,
    make_ref,
    moved,
)
from tests.store.conftest import Opener
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.records import Case, CaseState, NewCase, OutboxKind
from triagebot.errors import CaseNotFound, StoreError, VersionConflict
from triagebot.store.base import Store

LEASE = timedelta(minutes=5)


def test_implements_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_migrate_is_repeatable(store: Store) -> None:
    assert isinstance(store.migrate(), list)
    assert store.migrate() == []


# --- ids and adding --------------------------------------------------------------------------
def test_next_case_ids_are_fresh_decimal_strings(store: Store) -> None:
    first = store.next_case_ids(3)
    second = store.next_case_ids(2)
    assert all(i.isdecimal() for i in first + second)
    assert len(set(first + second)) == 5
    assert store.next_case_ids(0) == []


def test_add_and_get_round_trip(store: Store) -> None:
    new = make_new("1", department="billing")
    assert store.add_cases([new]) == [True]
    assert store.get_case("1") == new.case
    assert store.get_case("1").mention.raw == new.case.mention.raw
    assert store.events("1") == list(new.events)
    assert store.has_mention("x:1")
    assert store.pending_outbox() == 1


def test_add_nothing(store: Store) -> None:
    assert store.add_cases([]) == []


def test_get_missing_case(store: Store) -> None:
    with pytest.raises(CaseNotFound):
        store.get_case("404")
    assert store.events("404") == []
    assert store.message_refs("404") == {}
    assert not store.has_mention("x:404")


def test_dedupe_against_stored_mentions(store: Store) -> None:
    store.add_cases([make_new("1", mention_id="x:a")])
    result = store.add_cases([make_new("2", mention_id="x:a"), make_new("3", mention_id="x:b")])
    assert result == [False, True]
    with pytest.raises(CaseNotFound):
        store.get_case("2")
    assert store.get_case("3").mention.id == "x:b"
    assert store.pending_outbox() == 2  # the skipped entry's outbox item is not stored


def test_active_cases_of_mentions_names_only_active_cases(store: Store) -> None:
    store.add_cases([make_new("1", mention_id="x:a"), make_new("2", mention_id="x:b"),
                     make_new("3", mention_id="x:c", state=CaseState.SPAM)])  # fmt: skip
    claimed = moved(store.get_case("2"), CaseState.CLAIMED)
    store.save_case(claimed, claimed.version - 1)
    asked = ["x:a", "x:b", "x:c", "x:never"]
    assert store.active_cases_of_mentions(asked) == {"x:a": "1", "x:b": "2"}
    resolved = moved(store.get_case("1"), CaseState.RESOLVED)
    store.save_case(resolved, resolved.version - 1)
    assert store.active_cases_of_mentions(asked) == {"x:b": "2"}
    assert store.active_cases_of_mentions([]) == {}


def test_dedupe_inside_one_batch(store: Store) -> None:
    result = store.add_cases([make_new("1", mention_id="x:a"), make_new("2", mention_id="x:a")])
    assert result == [True, False]
    assert store.get_case("1").mention.id == "x:a"
    with pytest.raises(CaseNotFound):
        store.get_case("2")


def test_dedupe_covers_closed_cases(store: Store) -> None:
    store.add_cases([make_new("1", mention_id="x:a", state=CaseState.SPAM)])
    assert store.has_mention("x:a")
    assert store.add_cases([make_new("2", mention_id="x:a")]) == [False]


def test_add_cases_is_all_or_nothing(store: Store) -> None:
    good = make_new("1")
    bad_case = make_case("2")
    bad = NewCase(replace(bad_case, mention=replace(bad_case.mention, raw={"x": object()})))
    with pytest.raises((TypeError, ValueError, StoreError)):
        store.add_cases([good, bad])
    assert not store.has_mention("x:1")
    assert store.pending_outbox() == 0
    assert store.add_cases([good]) == [True]


def test_new_closed_cases_are_stored(store: Store) -> None:
    store.add_cases([make_new("1", state=CaseState.SPAM), make_new("2")])
    assert store.get_case("1").state is CaseState.SPAM
    assert [c.id for c in store.list_cases(states=[CaseState.SPAM])] == ["1"]
    assert [e.action for e in store.events("1")] == ["created"]


# --- compare-and-set ---------------------------------------------------------------------------
def test_save_case_compare_and_set(store: Store) -> None:
    store.add_cases([make_new("1")])
    seen_by_ana = store.get_case("1")
    seen_by_bo = store.get_case("1")
    ana = moved(seen_by_ana, CaseState.CLAIMED, actor="ana")
    store.save_case(ana, 1, [make_event(ana, "claimed")], [make_outbox("u1", "1")])
    bo = moved(seen_by_bo, CaseState.CLAIMED, actor="bo")
    with pytest.raises(VersionConflict):
        store.save_case(bo, 1, [make_event(bo, "claimed", actor="bo")], [make_outbox("u2", "1")])
    stored = store.get_case("1")
    assert (stored.claimed_by, stored.version) == (Identity("cli", "ana"), 2)
    assert [e.actor for e in store.events("1")] == [SYSTEM, SYSTEM]
    assert store.pending_outbox() == 2  # post-1 and u1, not u2


def test_version_conflict_is_a_store_error(store: Store) -> None:
    store.add_cases([make_new("1")])
    case = store.get_case("1")
    store.save_case(moved(case, CaseState.OPEN), 1)
    with pytest.raises(StoreError):
        store.save_case(moved(case, CaseState.OPEN), 1)


def test_save_case_requires_the_next_version(store: Store) -> None:
    store.add_cases([make_new("1")])
    case = store.get_case("1")
    with pytest.raises(ValueError, match="version"):
        store.save_case(replace(case, version=3), 1)
    assert store.get_case("1").version == 1


def test_save_unknown_case(store: Store) -> None:
    with pytest.raises(CaseNotFound):
        store.save_case(make_case("9", version=2), 1)


def test_lifecycle_moves_between_active_and_closed(store: Store) -> None:
    store.add_cases([make_new("1")])
    case = store.get_case("1")
    steps = [
        CaseState.OPEN,
        CaseState.CLAIMED,
        CaseState.RESOLVED,
        CaseState.OPEN,  # reopened
        CaseState.CLAIMED,
        CaseState.SPAM,
        CaseState.RESOLVED,
    ]
    for state in steps:
        nxt = moved(case, state)
        store.save_case(nxt, case.version, [make_event(nxt, state.value)])
        case = nxt
        assert store.get_case("1") == nxt
        assert [c.id for c in store.list_cases(states=[state])] == ["1"]
        others = [s for s in CaseState if s is not state]
        assert store.list_cases(states=others) == []
    assert [e.action for e in store.events("1")] == ["created", *(s.value for s in steps)]
    assert [e.version for e in store.events("1")] == list(range(1, len(steps) + 2))
    assert store.has_mention("x:1")


def test_events_are_appended_in_order(store: Store) -> None:
    store.add_cases([make_new("1")])
    case = store.get_case("1")
    nxt = moved(case, CaseState.CLAIMED)
    notes = [make_event(nxt, "claimed"), make_event(nxt, "note", note="called back")]
    store.save_case(nxt, 1, notes)
    assert store.events("1")[1:] == notes


# --- message refs ------------------------------------------------------------------------------
def test_message_refs_per_surface(store: Store) -> None:
    store.add_cases([make_new("1")])
    store.set_message_ref("1", make_ref("slack", "1.1"))
    store.set_message_ref("1", make_ref("teams", "t-1"))
    store.set_message_ref("1", make_ref("slack", "1.2"))
    refs = store.message_refs("1")
    assert refs == {"slack": make_ref("slack", "1.2"), "teams": make_ref("teams", "t-1")}


def test_message_refs_survive_state_changes(store: Store) -> None:
    store.add_cases([make_new("1")])
    store.set_message_ref("1", make_ref("slack"))
    case = store.get_case("1")
    for state in (CaseState.RESOLVED, CaseState.OPEN):
        nxt = moved(case, state)
        store.save_case(nxt, case.version)
        case = nxt
        assert store.message_refs("1") == {"slack": make_ref("slack")}
    store.save_case(moved(case, CaseState.SPAM), case.version)
    store.set_message_ref("1", make_ref("teams", "t-9"))  # on a closed case
    assert set(store.message_refs("1")) == {"slack", "teams"}
    assert store.get_case("1").state is CaseState.SPAM


def test_message_ref_of_unknown_case(store: Store) -> None:
    with pytest.raises(CaseNotFound):
        store.set_message_ref("404", make_ref())


# --- listing -----------------------------------------------------------------------------------
@pytest.fixture
def listed(store: Store) -> Store:
    """Six cases an hour apart: 1..6, alternating departments, 2 and 5 resolved, 4 spam."""
    new = [
        make_new(str(n), ingested_at=T0 + timedelta(hours=n), department=("a" if n % 2 else "b"))
        for n in range(1, 7)
    ]
    store.add_cases(new)
    for n, state in ((2, CaseState.RESOLVED), (4, CaseState.SPAM), (5, CaseState.RESOLVED)):
        case = store.get_case(str(n))
        store.save_case(moved(case, state), case.version)
    return store


def ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def test_list_newest_first(listed: Store) -> None:
    assert ids(listed.list_cases()) == ["6", "5", "4", "3", "2", "1"]


def test_list_by_state(listed: Store) -> None:
    assert ids(listed.list_cases(states=[CaseState.NEW])) == ["6", "3", "1"]
    closed = [CaseState.RESOLVED, CaseState.SPAM]
    assert ids(listed.list_cases(states=closed)) == ["5", "4", "2"]
    assert ids(listed.list_cases(states=[CaseState.CLAIMED])) == []
    assert ids(listed.list_cases(states=[])) == []


def test_list_by_department(listed: Store) -> None:
    assert ids(listed.list_cases(department="a")) == ["5", "3", "1"]
    assert ids(listed.list_cases(department="b", states=[CaseState.SPAM])) == ["4"]
    assert ids(listed.list_cases(department="nobody")) == []


def test_list_time_window_is_half_open(listed: Store) -> None:
    since, until = T0 + timedelta(hours=2), T0 + timedelta(hours=5)
    assert ids(listed.list_cases(since=since, until=until)) == ["4", "3", "2"]
    assert ids(listed.list_cases(since=T0 + timedelta(hours=6))) == ["6"]
    assert ids(listed.list_cases(until=T0 + timedelta(hours=2))) == ["1"]


def test_list_limit(listed: Store) -> None:
    assert ids(listed.list_cases(limit=2)) == ["6", "5"]
    assert ids(listed.list_cases(limit=4, states=[CaseState.NEW, CaseState.RESOLVED])) == [
        "6",
        "5",
        "3",
        "2",
    ]
    assert listed.list_cases(limit=0) == []
    assert len(listed.list_cases(limit=100)) == 6


# --- outbox ------------------------------------------------------------------------------------
@pytest.fixture
def queued(store: Store) -> Store:
    """Outbox items o3, o1, o2 stored in that order, created at T0+3, T0+1, T0+2 minutes."""
    case = make_case("1")
    items = tuple(
        make_outbox(f"o{n}", "1", created_at=T0 + timedelta(minutes=n), kind=OutboxKind.UPDATE)
        for n in (3, 1, 2)
    )
    store.add_cases([NewCase(case, (), items)])
    return store


def test_lease_oldest_first_and_hides(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    first = queued.lease_outbox(now, 2, LEASE)
    assert [i.id for i in first] == ["o1", "o2"]
    assert all(i.next_attempt_at == now + LEASE for i in first)
    assert [i.id for i in queued.lease_outbox(now, 10, LEASE)] == ["o3"]
    assert queued.lease_outbox(now + timedelta(minutes=1), 10, LEASE) == []
    assert queued.pending_outbox() == 3


def test_lease_expires(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    queued.lease_outbox(now, 10, LEASE)
    again = queued.lease_outbox(now + LEASE, 10, LEASE)
    assert [i.id for i in again] == ["o1", "o2", "o3"]


def test_lease_limit_zero(queued: Store) -> None:
    assert queued.lease_outbox(T0, 0, LEASE) == []


def test_complete_removes(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    queued.lease_outbox(now, 1, LEASE)
    queued.complete_outbox("o1")
    queued.complete_outbox("o1")  # already gone: nothing happens
    queued.complete_outbox("nope")
    assert queued.pending_outbox() == 2
    assert [i.id for i in queued.lease_outbox(now + LEASE, 10, LEASE)] == ["o2", "o3"]


def test_retry_stores_progress(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    item = queued.lease_outbox(now, 1, LEASE)[0]
    later = now + timedelta(minutes=1)
    retried = replace(
        item, attempts=1, next_attempt_at=later, last_error="HTTP 503", done=("slack",)
    )
    queued.retry_outbox(retried)
    assert [i.id for i in queued.lease_outbox(now, 10, LEASE)] == ["o2", "o3"]
    back = queued.lease_outbox(later, 10, LEASE)
    assert [i.id for i in back] == ["o1"]
    assert (back[0].attempts, back[0].last_error, back[0].done) == (1, "HTTP 503", ("slack",))


def test_retry_of_missing_item_is_ignored(queued: Store) -> None:
    queued.retry_outbox(make_outbox("nope", "1"))
    assert queued.pending_outbox() == 3


def test_save_case_adds_outbox_items(store: Store) -> None:
    store.add_cases([NewCase(make_case("1"))])
    case = store.get_case("1")
    store.save_case(moved(case, CaseState.RESOLVED), 1, outbox=[make_outbox("u1", "1")])
    leased = store.lease_outbox(T0, 10, LEASE)
    assert [(i.id, i.case_id) for i in leased] == [("u1", "1")]


def test_queue_outbox_adds_items_once_per_id(store: Store) -> None:
    store.add_cases([make_new("1"), make_new("2")])  # queues post-1 and post-2 at T0
    later = T0 + timedelta(minutes=5)
    one = replace(make_outbox("teams-post-1", "1", created_at=later), surface="teams")
    two = replace(make_outbox("teams-post-2", "2", created_at=later), surface="teams")
    assert store.queue_outbox([]) == []
    assert store.queue_outbox([one, two, one]) == [True, True, False]
    assert store.queue_outbox([two, make_outbox("post-1", "1")]) == [False, False]
    assert store.pending_outbox() == 4
    now = T0 + timedelta(hours=1)
    leased = store.lease_outbox(now, 10, LEASE)
    assert [(i.id, i.surface) for i in leased] == [
        ("post-1", None), ("post-2", None), ("teams-post-1", "teams"), ("teams-post-2", "teams")
    ]  # fmt: skip
    store.retry_outbox(replace(leased[2], attempts=1, next_attempt_at=now, done=("x",)))
    [again] = store.lease_outbox(now, 10, LEASE)
    assert (again.id, again.surface, again.attempts, again.done) == (
        "teams-post-1", "teams", 1, ("x",)
    )  # fmt: skip
    store.complete_outbox("teams-post-1")
    assert store.queue_outbox([one]) == [True]  # done: the same work may be queued again


# --- cursors -----------------------------------------------------------------------------------
def test_cursors(store: Store) -> None:
    assert store.get_cursor("x") is None
    store.set_cursor("x", "100")
    store.set_cursor("rss", "etag-1")
    store.set_cursor("x", "200")
    assert (store.get_cursor("x"), store.get_cursor("rss")) == ("200", "etag-1")
    store.set_cursor("x", None)
    assert store.get_cursor("x") is None
    assert store.get_cursor("rss") == "etag-1"


# --- places ------------------------------------------------------------------------------------
def test_places_are_remembered_per_surface_and_replaced_by_id(store: Store) -> None:
    assert store.places("teams") == {}
    general = {"kind": "channel", "name": "General", "reference": {"serviceUrl": "http://x/"}}
    store.remember_place("teams", "19:general", general)
    store.remember_place("teams", "19:ship", {"kind": "channel", "name": "Shipping"})
    store.remember_place("slack", "C1", {"name": "support"})
    renamed = general | {"name": "Allgemein", "seen_at": "2026-11-23T18:00:00+00:00"}
    store.remember_place("teams", "19:general", renamed)
    assert store.places("teams") == {
        "19:general": renamed,
        "19:ship": {"kind": "channel", "name": "Shipping"},
    }
    assert store.places("slack") == {"C1": {"name": "support"}}
    assert store.places("board") == {}


def test_places_survive_reopen(open_store: Opener) -> None:
    first = open_store()
    first.remember_place("teams", "19:a", {"nested": {"list": [1, "two", None]}, "ok": True})
    first.close()
    assert open_store().places("teams") == {
        "19:a": {"nested": {"list": [1, "two", None]}, "ok": True}
    }


# --- durability and sharing --------------------------------------------------------------------
def test_data_survives_reopen(open_store: Opener) -> None:
    first = open_store()
    first.add_cases([make_new("1"), make_new("2"), make_new("3", state=CaseState.SPAM)])
    case = first.get_case("2")
    resolved = moved(case, CaseState.RESOLVED)
    first.save_case(resolved, 1, [make_event(resolved, "resolved")])
    first.set_message_ref("2", make_ref())
    first.set_cursor("x", "c1")
    used = first.next_case_ids(2)
    first.close()

    again = open_store()
    assert again.get_case("1") == make_new("1").case
    assert again.get_case("2") == resolved
    assert [e.action for e in again.events("2")] == ["created", "resolved"]
    assert again.message_refs("2") == {"slack": make_ref()}
    assert again.get_case("3").state is CaseState.SPAM
    assert again.get_cursor("x") == "c1"
    assert again.pending_outbox() == 3
    assert again.has_mention("x:3")
    assert not set(again.next_case_ids(2)) & {*used, "1", "2", "3"}


def test_two_connections_see_each_other(open_store: Opener) -> None:
    one, two = open_store(), open_store()
    one.add_cases([make_new("1")])
    assert two.get_case("1").state is CaseState.NEW
    case = two.get_case("1")
    two.save_case(moved(case, CaseState.CLAIMED, actor="bo"), 1)
    assert one.get_case("1").claimed_by == Identity("cli", "bo")
    with pytest.raises(VersionConflict):
        one.save_case(moved(case, CaseState.CLAIMED, actor="ana"), 1)
    assert two.add_cases([make_new("2", mention_id="x:1")]) == [False]
    assert len(set(one.next_case_ids(3) + two.next_case_ids(3))) == 6


def test_text_round_trips_exactly(store: Store) -> None:
    text = 'Ünïcödé ✓ 😀 "quotes" \\ back\nslash \u2028 end'
    case = replace(make_case("1"), mention=make_mention("x:1", text=text))
    store.add_cases([NewCase(case)])
    assert store.get_case("1").mention.text == text
