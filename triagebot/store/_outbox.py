"""The TinyDB store's outbox by item id, and in the order ``lease_outbox`` hands items out.

The root's outbox table holds the items by slot (document id), each a ``QueuedItem``: its
document's JSON compressed (``_squeeze``: ~75 bytes for ~200; parsed, an item took ~675 bytes
of Python objects, and a viral day leaves 50,000 queued) beside the fields the lease order
reads. ``OutboxIndex`` is built from it when the root is loaded and changed with every item a
transaction or a journal record puts or removes, so finding an item, queueing, finishing,
renewing and leasing cost the same whatever the length of the outbox (every delivered item
used to walk and copy all of them).

Lease order: oldest ``created_at`` first, then slot. Items due now (no ``next_attempt_at``)
wait in one heap in that order; items due later (leased, or retried) in another by
``next_attempt_at``, and move to the first when their time comes. An entry names the item and
the ``next_attempt_at`` it was made for; an entry whose slot has lost that item (another
process's store, opened from a snapshot without it, may put a new item in the same slot) or
whose item has another ``next_attempt_at`` is stale, dropped when it is reached. The heaps
are rebuilt from the table when stale entries outnumber the documents.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from triagebot.cases.records import JSON
from triagebot.cases.time_fields import parse_iso
from triagebot.store._atomic import Encoded, dump_json
from triagebot.store._squeeze import ITEM, expand_doc, squeeze, unsqueeze

_NO_DATE = datetime.min.replace(tzinfo=UTC)
_SLACK = 256  # stale heap entries allowed beyond the number of documents

_Entry = tuple[datetime, int, str, str]  # (order, slot, next_attempt_at as stored or "", id)


@dataclass(frozen=True, slots=True)
class QueuedItem(Encoded):
    """An outbox item's document as compressed JSON (``data``; ``raw`` is its JSON) and what
    the lease order reads: its id, ``next_attempt_at`` as stored ("" for none), and
    ``created_at`` (the same datetime the index's entry holds)."""

    data: bytes
    id: str
    next_attempt_at: str
    created: datetime

    @property
    def raw(self) -> bytes:
        return unsqueeze(self.data)

    def doc(self, path: Path) -> JSON:
        """The document, decoded afresh (the caller's own copy)."""
        return expand_doc(self.data, path, f"outbox item {self.id!r}")


def queued(doc: JSON) -> QueuedItem:
    """``doc``, an outbox item's document, as kept in the root (``KeyError``, ``TypeError`` or
    ``ValueError`` if it lacks its id)."""
    item_id = doc["id"]
    if type(item_id) is not str:
        raise TypeError(f"outbox item id {item_id!r}")
    return QueuedItem(
        squeeze(dump_json(doc), ITEM),
        item_id,
        doc.get("next_attempt_at") or "",
        parse_iso(doc.get("created_at")) or _NO_DATE,
    )


def _entry(slot: int, item: QueuedItem) -> tuple[bool, _Entry]:
    """(due now, heap entry) of ``item`` kept in ``slot``."""
    at, item_id = item.next_attempt_at, item.id
    if at:
        return False, (parse_iso(at) or _NO_DATE, slot, at, item_id)
    return True, (item.created, slot, "", item_id)


def _holds(item: QueuedItem, item_id: str, at: str) -> bool:
    """Whether a slot's item is still the item an entry was made for, as it was then."""
    return item.id == item_id and item.next_attempt_at == at


class OutboxIndex:
    """Item id -> slot of the root's outbox, and the items in lease order."""

    def __init__(self) -> None:
        self.slots: dict[str, str] = {}
        self.last_slot = 0
        self._now: list[_Entry] = []  # due now, by created_at
        self._later: list[_Entry] = []  # due at next_attempt_at

    @classmethod
    def build(cls, table: Mapping[str, QueuedItem]) -> OutboxIndex:
        index = cls()
        index._fill(table)
        return index

    def _fill(self, table: Mapping[str, QueuedItem]) -> None:
        self._now, self._later = [], []
        for slot, item in table.items():
            self.slots[item.id] = slot
            self.last_slot = max(self.last_slot, int(slot))
            now, entry = _entry(int(slot), item)
            (self._now if now else self._later).append(entry)
        heapq.heapify(self._now)
        heapq.heapify(self._later)

    def add(self, slot: str, item: QueuedItem) -> None:
        """``item`` is now in ``slot`` (new, or changed)."""
        self.slots[item.id] = slot
        self.last_slot = max(self.last_slot, int(slot))
        now, entry = _entry(int(slot), item)
        heapq.heappush(self._now if now else self._later, entry)

    def remove(self, item: QueuedItem) -> None:
        """``item`` left its slot (its heap entries go stale)."""
        self.slots.pop(item.id, None)

    def due(self, table: Mapping[str, QueuedItem], now: datetime, limit: int) -> list[str]:
        """Slots of up to ``limit`` items due at ``now``, oldest first (``table``: the outbox).

        Nothing is taken out: leasing them changes their ``next_attempt_at``, which makes
        their entries here stale.
        """
        if len(self._now) + len(self._later) > 2 * len(table) + _SLACK:
            self.slots.clear()
            self._fill(table)
        ready, later = self._now, self._later
        while later and later[0][0] <= now:
            _, slot, at, item_id = heapq.heappop(later)
            item = table.get(str(slot))
            if item is not None and _holds(item, item_id, at):
                heapq.heappush(ready, (item.created, slot, at, item_id))
        found: list[str] = []
        seen: set[int] = set()
        keep: list[_Entry] = []
        while ready and len(found) < limit:
            entry = heapq.heappop(ready)
            _, slot, at, item_id = entry
            item = table.get(str(slot))
            if item is None or not _holds(item, item_id, at) or slot in seen:
                continue  # stale
            when = parse_iso(at) if at else None
            if when is not None and when > now:  # due later after all (an earlier ``now``)
                heapq.heappush(later, (when, slot, at, item_id))
                continue
            found.append(str(slot))
            seen.add(slot)
            keep.append(entry)
        for entry in keep:  # still queued until the caller changes them
            heapq.heappush(ready, entry)
        return found
