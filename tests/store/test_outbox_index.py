"""The TinyDB store's outbox index: leases found through it match a reading of every item.

Two processes (two stores on the same files) queue, lease, renew, give back, retry and finish
items in a random order; before each lease the items due are worked out from the outbox table
itself (due: no ``next_attempt_at`` or a past one; oldest ``created_at`` first, then document
id), and the lease must hand out exactly those. A store opened afresh builds the same index
from the files. Hundreds of changes make the index rebuild its heaps on the way.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from tests.store.builders import T0, make_case, make_outbox
from triagebot.cases.records import NewCase, OutboxItem, OutboxKind
from triagebot.cases.time_fields import parse_iso
from triagebot.store.tinydb_store import TinyDBStore

LEASE = timedelta(seconds=10)


def due_by_reading(store: TinyDBStore, now: datetime, limit: int) -> list[str]:
    """The ids ``lease_outbox`` should hand out, from every document of the outbox."""

    def run() -> list[str]:
        table = store._root.get("outbox", {})
        due = []
        for slot, item in table.items():
            doc = item.doc(store.path)
            at = parse_iso(doc["next_attempt_at"])
            if at is None or at <= now:
                due.append((parse_iso(doc["created_at"]), int(slot), doc["id"]))
        return [item_id for *_, item_id in sorted(due)[:limit]]

    return store._read(run)


def test_leases_follow_the_outbox_through_every_kind_of_change(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    rng = random.Random(7)
    stores = [TinyDBStore(path), TinyDBStore(path)]
    stores[0].add_cases([NewCase(make_case("1"), (), ())])
    now = T0
    held: list[OutboxItem] = []
    serial = 0
    leased = 0
    for _ in range(700):
        store = rng.choice(stores)
        action = rng.random()
        if action < 0.3:
            new = []
            for _ in range(rng.randint(1, 4)):
                serial += 1
                created = T0 - timedelta(seconds=rng.randint(0, 600))  # not in queue order
                new.append(
                    make_outbox(f"o{serial}", "1", created_at=created, kind=OutboxKind.UPDATE)
                )
            store.queue_outbox(new)
        elif action < 0.55:
            limit = rng.randint(1, 5)
            expected = due_by_reading(store, now, limit)
            got = store.lease_outbox(now, limit, LEASE)
            assert [item.id for item in got] == expected
            held = got + held[:6]
            leased += len(got)
        elif action < 0.65 and held:
            item = held.pop(rng.randrange(len(held)))
            store.finish_delivery(item.id, "1")
        elif action < 0.72 and held:
            item = held.pop(rng.randrange(len(held)))
            later = now + timedelta(seconds=rng.randint(1, 30))
            store.retry_outbox(replace(item, attempts=item.attempts + 1, next_attempt_at=later))
        elif action < 0.8 and held:
            held = store.renew_outbox(held, now + LEASE)
        elif action < 0.85 and held:
            store.renew_outbox(held, None)  # given back, due at once
            held = []
        else:
            now += timedelta(seconds=rng.randint(1, 6))
    assert leased > 200
    with TinyDBStore(path) as fresh:  # the index built from the files
        later = now + timedelta(minutes=5)
        expected = due_by_reading(fresh, later, 1_000)
        assert [i.id for i in fresh.lease_outbox(later, 1_000, LEASE)] == expected
    for store in stores:
        store.close()


def test_an_item_queued_twice_is_kept_once(tmp_path: Path) -> None:
    with TinyDBStore(tmp_path / "triagebot.json") as store:
        store.add_cases([NewCase(make_case("1"), (), ())])
        item = make_outbox("o1", "1", kind=OutboxKind.UPDATE)
        assert store.queue_outbox([item, item]) == [True, False]
        assert store.queue_outbox([item]) == [False]
        assert store.pending_outbox() == 1


def test_a_slot_used_again_by_another_process_keeps_the_lease_order(tmp_path: Path) -> None:
    # A store opened from a snapshot written after the last item was finished gives the next
    # item that item's slot (document id); the store that finished it must not lease the new
    # one in the finished one's place.
    path = tmp_path / "triagebot.json"
    with TinyDBStore(path) as first:
        first.add_cases([NewCase(make_case("1"), (), ())])
        older = make_outbox("older", "1", created_at=T0, kind=OutboxKind.UPDATE)
        done = make_outbox("done", "1", created_at=T0 - timedelta(minutes=1))
        first.queue_outbox([older, done])
        first.complete_outbox("done")
        first.compact()  # the snapshot no longer holds the last slot
        with TinyDBStore(path) as second:
            newer = make_outbox("newer", "1", created_at=T0 + timedelta(minutes=1))
            second.queue_outbox([newer])
        now = T0 + timedelta(minutes=2)
        assert due_by_reading(first, now, 1) == ["older"]
        assert [i.id for i in first.lease_outbox(now, 1, LEASE)] == ["older"]
