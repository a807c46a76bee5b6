"""A delivered case costs one commit: its post's ref, its publication (new -> open) and the
completion of its outbox item are written together, on every store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.surface import RecordingSurface
from tests.store.builders import T0, make_new
from triagebot.actions.executor import SettingsPolicy
from triagebot.cases.records import CaseState
from triagebot.config.settings import Settings
from triagebot.runtime.delivery import DeliveryWorker
from triagebot.store.base import Store

#: The Store methods that write; each is one commit (one transaction) of the store.
WRITES = frozenset(
    {
        "next_case_ids",
        "add_cases",
        "save_case",
        "set_cursor",
        "lease_outbox",
        "queue_outbox",
        "complete_outbox",
        "finish_delivery",
        "retry_outbox",
        "renew_outbox",
        "set_message_ref",
        "remember_place",
    }
)


class CountingStore:
    """Hands every call to ``store`` and counts the calls of the methods that write."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name not in WRITES:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.writes[name] += 1
            return attr(*args, **kwargs)

        return counted


def clock() -> Callable[[], datetime]:
    return lambda: T0 + timedelta(minutes=1)


async def test_each_delivered_case_is_one_commit(store: Store, settings: Settings) -> None:
    store.add_cases([make_new(str(n), state=CaseState.NEW) for n in range(1, 6)])
    counting = CountingStore(store)
    surface = RecordingSurface("slack")
    worker = DeliveryWorker(counting, [surface], SettingsPolicy(settings), clock())
    # Each post publishes its case, which queues one update of the card: 10 items.
    assert await worker.flush() == 10
    assert len(surface.posts) == len(surface.updates) == 5
    assert {k: v for k, v in counting.writes.items() if k != "lease_outbox"} == {
        "finish_delivery": 10
    }
    for n in range(1, 6):
        case = store.get_case(str(n))
        assert case.state is CaseState.OPEN and case.version == 2
        assert [e.action for e in store.events(case.id)] == ["created", "publish"]
        assert set(store.message_refs(case.id)) == {"slack"}
    assert store.pending_outbox() == 0


async def test_several_surfaces_store_each_earlier_ref_before_the_next_post(
    store: Store, settings: Settings
) -> None:
    store.add_cases([make_new("1", state=CaseState.NEW)])
    counting = CountingStore(store)
    slack, teams = RecordingSurface("slack"), RecordingSurface("teams")
    teams.fail_next = 1
    worker = DeliveryWorker(counting, [slack, teams], SettingsPolicy(settings), clock())
    assert await worker.flush() == 0  # teams failed: the item is retried later
    assert counting.writes["set_message_ref"] == 1  # slack's, stored before teams was tried
    assert set(store.message_refs("1")) == {"slack"}
    assert store.get_case("1").state is CaseState.NEW
    counting.writes.clear()
    worker.clock = lambda: T0 + timedelta(hours=1)
    assert await worker.flush() == 2  # the post, then the update its publication queued
    assert len(slack.posts) == len(teams.posts) == 1  # slack is not posted to again
    assert counting.writes["finish_delivery"] == 2 and counting.writes["set_message_ref"] == 0
    assert set(store.message_refs("1")) == {"slack", "teams"}
    assert store.get_case("1").state is CaseState.OPEN


async def test_a_case_claimed_while_it_was_posted_keeps_the_claim(
    store: Store, settings: Settings
) -> None:
    store.add_cases([make_new("1", state=CaseState.NEW)])
    policy = SettingsPolicy(settings)

    class ClaimingSurface(RecordingSurface):
        async def post(self, case: Any) -> Any:
            from triagebot.actions.executor import execute  # noqa: PLC0415
            from triagebot.cases.identities import Identity  # noqa: PLC0415
            from triagebot.cases.lifecycle import Claim  # noqa: PLC0415

            execute(store, policy, Claim("1", Identity("cli", "ana"), "cli"), T0)
            return await super().post(case)

    counting = CountingStore(store)
    worker = DeliveryWorker(counting, [ClaimingSurface("slack")], policy, clock())
    assert await worker.flush() >= 1
    case = store.get_case("1")
    assert case.state is CaseState.CLAIMED and case.version == 2  # no publication over it
    assert set(store.message_refs("1")) == {"slack"}
    assert counting.writes["finish_delivery"] >= 2  # the lost compare-and-set, then without


async def test_a_case_that_keeps_changing_keeps_its_ref_and_is_not_posted_twice(
    store: Store, settings: Settings
) -> None:
    """Every attempt to record the delivery loses to another writer: the ref is stored on
    its own, the item stays queued, and its next delivery finds the ref instead of posting."""
    store.add_cases([make_new("1", state=CaseState.NEW)])

    class BusyCase(CountingStore):
        busy = True

        def __getattr__(self, name: str) -> Any:
            attr = super().__getattr__(name)
            if name != "finish_delivery":
                return attr

            def finish(item_id: str, case_id: str, refs: Any = (), change: Any = None) -> Any:
                if self.busy and change is not None:  # another writer gets there first
                    case = store.get_case(case_id)
                    store.save_case(replace(case, version=case.version + 1), case.version)
                return attr(item_id, case_id, refs, change)

            return finish

    busy = BusyCase(store)
    surface = RecordingSurface("slack")
    worker = DeliveryWorker(busy, [surface], SettingsPolicy(settings), clock())
    assert await worker.flush() == 0
    assert busy.writes["finish_delivery"] == 5 and busy.writes["set_message_ref"] == 1
    assert set(store.message_refs("1")) == {"slack"}
    assert store.get_case("1").state is CaseState.NEW and store.pending_outbox() == 1
    busy.busy = False
    worker.clock = lambda: T0 + timedelta(hours=1)  # the lease has run out
    assert await worker.flush() == 2  # the post (publishing the case), then its update
    assert len(surface.posts) == 1
    assert store.get_case("1").state is CaseState.OPEN
