"""The TinyDB store's outbox by item id, and in the order ``lease_outbox`` hands items out.

The root's outbox table holds the items' documents by slot (document id). ``OutboxIndex`` is
built from it when the root is loaded and changed with every document a transaction or a
journal record puts or removes, so finding an item, queueing, finishing, renewing and leasing
cost the same whatever the length of the outbox (a viral day leaves tens of thousands of
posts queued, and every delivered item used to walk and copy all of them).

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
from datetime import UTC, datetime

from triagebot.cases.records import JSON
from triagebot.cases.time_fields import parse_iso

_NO_DATE = datetime.min.replace(tzinfo=UTC)
_SLACK = 256  # stale heap entries allowed beyond the number of documents

_Entry = tuple[datetime, int, str, str]  # (order, slot, next_attempt_at as stored or "", id)


def _created(doc: JSON) -> datetime:
    return parse_iso(doc.get("created_at")) or _NO_DATE


def _entry(slot: int, doc: JSON) -> tuple[bool, _Entry]:
    """(due now, heap entry) of the item ``doc`` kept in ``slot``."""
    at, item_id = doc.get("next_attempt_at") or "", doc["id"]
    if at:
        return False, (parse_iso(at) or _NO_DATE, slot, at, item_id)
    return True, (_created(doc), slot, "", item_id)


def _holds(doc: JSON, item_id: str, at: str) -> bool:
    """Whether a slot's document is still the item an entry was made for, as it was then."""
    return doc["id"] == item_id and (doc.get("next_attempt_at") or "") == at


class OutboxIndex:
    """Item id -> slot of the root's outbox, and the items in lease order."""

    def __init__(self) -> None:
        self.slots: dict[str, str] = {}
        self.last_slot = 0
        self._now: list[_Entry] = []  # due now, by created_at
        self._later: list[_Entry] = []  # due at next_attempt_at

    @classmethod
    def build(cls, table: Mapping[str, JSON]) -> OutboxIndex:
        index = cls()
        index._fill(table)
        return index

    def _fill(self, table: Mapping[str, JSON]) -> None:
        self._now, self._later = [], []
        for slot, doc in table.items():
            self.slots[doc["id"]] = slot
            self.last_slot = max(self.last_slot, int(slot))
            now, entry = _entry(int(slot), doc)
            (self._now if now else self._later).append(entry)
        heapq.heapify(self._now)
        heapq.heapify(self._later)

    def add(self, slot: str, doc: JSON) -> None:
        """``doc`` is now in ``slot`` (new, or changed)."""
        self.slots[doc["id"]] = slot
        self.last_slot = max(self.last_slot, int(slot))
        now, entry = _entry(int(slot), doc)
        heapq.heappush(self._now if now else self._later, entry)

    def remove(self, doc: JSON) -> None:
        """``doc`` left its slot (its heap entries go stale)."""
        self.slots.pop(doc["id"], None)

    def due(self, table: Mapping[str, JSON], now: datetime, limit: int) -> list[str]:
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
            doc = table.get(str(slot))
            if doc is not None and _holds(doc, item_id, at):
                heapq.heappush(ready, (_created(doc), slot, at, item_id))
        found: list[str] = []
        seen: set[int] = set()
        keep: list[_Entry] = []
        while ready and len(found) < limit:
            entry = heapq.heappop(ready)
            _, slot, at, item_id = entry
            doc = table.get(str(slot))
            if doc is None or not _holds(doc, item_id, at) or slot in seen:
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
