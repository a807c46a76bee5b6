"""Outbox leases on every store: renewing what a worker still holds, giving it back at once.

``renew_outbox`` matches each item on its id *and* the lease it holds, so a renewal never
revives an item that was completed, retried or taken over by another worker since.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.store.builders import T0, make_case, make_outbox
from triagebot.cases.records import NewCase, OutboxItem, OutboxKind
from triagebot.store.base import Store

LEASE = timedelta(seconds=10)


@pytest.fixture
def queued(store: Store) -> Store:
    """Outbox items o1, o2, o3 for case 1, created a minute apart."""
    items = tuple(
        make_outbox(f"o{n}", "1", created_at=T0 + timedelta(minutes=n), kind=OutboxKind.UPDATE)
        for n in (1, 2, 3)
    )
    store.add_cases([NewCase(make_case("1"), (), items)])
    return store


def ids(items: list[OutboxItem]) -> list[str]:
    return sorted(item.id for item in items)


def test_a_renewed_lease_keeps_the_items_hidden(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    held = queued.lease_outbox(now, 2, LEASE)
    later = now + timedelta(seconds=8)
    renewed = queued.renew_outbox(held, later + LEASE)
    assert ids(renewed) == ["o1", "o2"]
    assert all(item.next_attempt_at == later + LEASE for item in renewed)
    # Past the first lease, the renewed items stay hidden; only o3 is due.
    assert ids(queued.lease_outbox(now + LEASE, 10, LEASE)) == ["o3"]
    assert ids(queued.lease_outbox(later + LEASE, 10, LEASE)) == ["o1", "o2"]


def test_renewing_again_needs_the_latest_lease(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    held = queued.lease_outbox(now, 1, LEASE)
    renewed = queued.renew_outbox(held, now + 2 * LEASE)
    assert queued.renew_outbox(held, now + 3 * LEASE) == []  # the stale lease matches nothing
    assert ids(queued.renew_outbox(renewed, now + 3 * LEASE)) == ["o1"]


def test_a_completed_retried_or_retaken_item_is_not_renewed(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    o1, o2, o3 = queued.lease_outbox(now, 3, LEASE)
    queued.complete_outbox(o1.id)
    queued.retry_outbox(replace(o2, attempts=1, next_attempt_at=now + timedelta(minutes=5)))
    retaken = queued.lease_outbox(now + LEASE, 10, LEASE)  # o3's lease ran out: another worker
    assert ids(retaken) == ["o3"]
    assert queued.renew_outbox([o1, o2, o3], now + 2 * LEASE) == []
    assert queued.pending_outbox() == 2
    # o2 keeps its backoff; o3 stays with the worker that took it.
    assert queued.lease_outbox(now + LEASE + timedelta(seconds=9), 10, LEASE) == []
    assert ids(queued.lease_outbox(now + timedelta(minutes=5), 10, LEASE)) == ["o2", "o3"]


def test_giving_back_makes_the_items_due_at_once(queued: Store) -> None:
    now = T0 + timedelta(hours=1)
    held = queued.lease_outbox(now, 3, LEASE)
    assert queued.lease_outbox(now, 10, LEASE) == []
    given = queued.renew_outbox(held[:2], None)
    assert ids(given) == ["o1", "o2"] and all(i.next_attempt_at is None for i in given)
    assert ids(queued.lease_outbox(now, 10, LEASE)) == ["o1", "o2"]


def test_nothing_to_renew(queued: Store) -> None:
    assert queued.renew_outbox([], T0) == []
    unleased = make_outbox("o1", "1")
    assert queued.renew_outbox([unleased], T0 + LEASE) == []  # not leased: nothing held
