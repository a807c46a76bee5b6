"""``finish_delivery``: the refs of a delivered item, its case's change and its completion in
one commit, all or nothing, on every store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.store.builders import T0, make_event, make_new, make_outbox, make_ref, moved
from tests.store.conftest import Opener
from triagebot.cases.records import CaseState, OutboxKind
from triagebot.errors import CaseNotFound, VersionConflict
from triagebot.store.base import CaseChange, Store

LEASE = timedelta(minutes=5)


def pending_ids(store: Store) -> list[str]:
    return sorted(item.id for item in store.lease_outbox(T0 + timedelta(days=1), 100, LEASE))


def test_refs_publication_and_completion_together(open_store: Opener) -> None:
    store = open_store()
    store.add_cases([make_new("1", state=CaseState.NEW), make_new("2")])
    store.set_message_ref("1", make_ref("teams", "t-1"))
    case = store.get_case("1")
    shown = moved(case, CaseState.OPEN)
    update = make_outbox("u1", "1", kind=OutboxKind.UPDATE)
    change = CaseChange(shown, case.version, (make_event(shown, "publish"),), (update,))
    store.finish_delivery("post-1", "1", [make_ref("slack", "1.5")], change)
    for reader in (store, open_store()):  # this connection and a fresh one
        assert reader.get_case("1") == shown
        assert [e.action for e in reader.events("1")] == ["created", "publish"]
        assert reader.message_refs("1") == {
            "slack": make_ref("slack", "1.5"),
            "teams": make_ref("teams", "t-1"),
        }
    assert pending_ids(store) == ["post-2", "u1"]


def test_a_lost_compare_and_set_writes_nothing(store: Store) -> None:
    store.add_cases([make_new("1", state=CaseState.NEW)])
    case = store.get_case("1")
    claimed = moved(case, CaseState.CLAIMED)
    store.save_case(claimed, case.version)
    stale = CaseChange(moved(case, CaseState.OPEN), case.version, (), (make_outbox("u1", "1"),))
    with pytest.raises(VersionConflict):
        store.finish_delivery("post-1", "1", [make_ref("slack")], stale)
    assert store.get_case("1") == claimed
    assert store.message_refs("1") == {}
    assert pending_ids(store) == ["post-1"]
    store.finish_delivery("post-1", "1", [make_ref("slack")])  # as the worker then does
    assert store.message_refs("1") == {"slack": make_ref("slack")}
    assert store.get_case("1") == claimed
    assert pending_ids(store) == []


def test_completion_alone_and_of_an_item_already_gone(store: Store) -> None:
    store.add_cases([make_new("1"), make_new("2")])
    store.finish_delivery("post-1", "1")
    store.finish_delivery("post-1", "1")  # gone already: nothing happens
    store.finish_delivery("nope", "2", [make_ref("slack", "2.1")])
    assert pending_ids(store) == ["post-2"]
    assert store.message_refs("1") == {}
    assert store.message_refs("2") == {"slack": make_ref("slack", "2.1")}


def test_a_change_that_closes_the_case_keeps_the_new_ref(store: Store) -> None:
    store.add_cases([make_new("1")])
    store.set_message_ref("1", make_ref("teams", "t-1"))
    case = store.get_case("1")
    closed = moved(case, CaseState.SPAM)
    store.finish_delivery("post-1", "1", [make_ref("slack")], CaseChange(closed, case.version))
    assert store.get_case("1") == closed
    assert set(store.message_refs("1")) == {"slack", "teams"}
    assert store.list_cases(states=[CaseState.SPAM]) == [closed]


def test_unknown_case_or_mismatched_change(store: Store) -> None:
    store.add_cases([make_new("1")])
    with pytest.raises(CaseNotFound):
        store.finish_delivery("post-1", "404", [make_ref("slack")])
    case = store.get_case("1")
    with pytest.raises(ValueError, match="version"):
        store.finish_delivery("post-1", "1", (), CaseChange(case, case.version))
    with pytest.raises(ValueError, match="case 1, not 2"):
        store.finish_delivery("post-1", "2", (), CaseChange(moved(case, CaseState.OPEN), 1))
    assert pending_ids(store) == ["post-1"]
    assert store.message_refs("1") == {}
