"""Moving an embedded (TinyDB) deployment's whole history into PostgreSQL.

Reads every case document of the TinyDB store (active ones in the root file, closed ones in
the history segments) with its events and message refs, plus the outbox, the source cursors
and the case-id counter, and writes them to an empty PostgreSQL store in chunks, each chunk
one transaction. Afterwards the row counts of both sides are compared; any difference is a
``StoreError``. Running it twice is refused (the target must hold no case), so nothing is
ever doubled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from triagebot.cases.records import JSON, Case, CaseEvent, MessageRef, NewCase, OutboxItem
from triagebot.errors import StoreError
from triagebot.store._root import OUTBOX, PLACES
from triagebot.store.postgres import PostgresStore
from triagebot.store.tinydb_store import TinyDBStore

log = logging.getLogger(__name__)

CHUNK = 1000


@dataclass(frozen=True)
class Counts:
    """How many of each thing a store holds."""

    cases: int = 0
    events: int = 0
    message_refs: int = 0
    outbox: int = 0
    cursors: int = 0

    def describe(self) -> str:
        return (
            f"{self.cases} cases, {self.events} events, {self.message_refs} message refs, "
            f"{self.outbox} outbox items, {self.cursors} cursors"
        )


def _case_docs(src: TinyDBStore) -> Iterator[JSON]:
    """Every stored case document, root first, then each history segment."""
    root = src._read(src._active_docs)
    yield from root
    segments = src._read(lambda: list(src._segments))
    for info in segments:
        docs = src._read(partial(_segment_docs, src, info))
        yield from docs


def _segment_docs(src: TinyDBStore, info: Any) -> list[JSON]:
    return list(src._history.segment(info, keep=False).values())


def _chunks(docs: Iterator[JSON], size: int) -> Iterator[list[JSON]]:
    chunk: list[JSON] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def copy_store(
    src: TinyDBStore,
    dst: PostgresStore,
    *,
    chunk: int = CHUNK,
    progress: Callable[[int], None] | None = None,
) -> Counts:
    """Copy everything from ``src`` into the empty ``dst``; verify and return the counts."""
    if dst.list_cases(limit=1):
        raise StoreError(
            "the PostgreSQL store already holds cases: migrate-store needs an empty one"
        )
    outbox = src._read(lambda: [i.doc(src.path) for i in src._root.get(OUTBOX, {}).values()])
    cursors = src._read(lambda: [dict(doc) for doc in src._view()[2]])
    places = src._read(lambda: [dict(doc) for doc in src._root.get(PLACES, {}).values()])
    next_case = src._read(lambda: int(src._meta.get("next_case", 1)))
    events = refs = cases = 0
    for docs in _chunks(_case_docs(src), chunk):
        new: list[NewCase] = []
        chunk_refs: list[tuple[str, MessageRef]] = []
        for doc in docs:
            case = Case.from_dict(doc)
            case_events = tuple(CaseEvent.from_dict(e) for e in doc.get("events", []))
            new.append(NewCase(case, case_events))
            refs_doc: dict[str, Any] = doc.get("refs") or {}
            chunk_refs += [(case.id, MessageRef.from_dict(r)) for r in refs_doc.values()]
            events += len(case_events)
        added = dst.add_cases(new)
        if not all(added):
            raise StoreError("two cases of the embedded store share a mention id")
        dst.put_message_refs(chunk_refs)
        refs += len(chunk_refs)
        cases += len(docs)
        if progress is not None:
            progress(cases)
    items = [OutboxItem.from_dict(doc) for doc in outbox]  # in their order of creation
    for start in range(0, len(items), chunk):
        dst.put_outbox(items[start : start + chunk])
    for doc in cursors:
        dst.set_cursor(doc["source"], doc["cursor"])
    for doc in places:  # where surfaces can post (Teams channels), not counted
        dst.remember_place(doc["surface"], doc["id"], doc["data"])
    dst.reserve_case_ids(next_case)
    copied = Counts(cases, events, refs, len(items), len(cursors))
    found = Counts(**dst.counts())
    if found != copied:
        raise StoreError(f"copy incomplete: read {copied.describe()}; stored {found.describe()}")
    return copied
