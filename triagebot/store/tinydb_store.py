"""The embedded store: TinyDB files with atomic commits, history segments and file locking.

The root file (``data/triagebot.json``) holds the active cases with their events and message
refs, the outbox, source cursors and a meta document; it is a snapshot, continued by a journal
(``data/triagebot.journal-000001``, …) of one record per committed change (see ``_journal``).
Closed cases live in immutable history segments under ``data/triagebot.history/`` (see
``_history``). Every write is one transaction (see ``_engine``): under a thread lock and an
``flock`` on ``triagebot.json.lock`` it applies the journal records other processes appended
(or reads the root if a compaction replaced it), applies the change through a fresh
``TinyDB``, writes new segment files and appends the changed documents to the journal, fsynced.
Readers take no file lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, cast

from tinydb import Query

from triagebot.cases.facts import SlaFacts, gc_paused, to_us
from triagebot.cases.records import (
    JSON,
    Case,
    CaseEvent,
    CaseState,
    MessageRef,
    NewCase,
    OutboxItem,
)
from triagebot.cases.time_fields import iso, parse_iso, utc
from triagebot.errors import CaseNotFound, VersionConflict
from triagebot.store._acted import EventFilter
from triagebot.store._engine import ACTIVE, Engine, find_doc, plain
from triagebot.store._lazy import LazyCase
from triagebot.store._packed import DEPARTMENT, ID, INGESTED, STATE
from triagebot.store._root import CASES, FORMAT, META_ID, PLACES
from triagebot.store._tinydb_actors import QUALIFIED_ACTORS, qualify_actors
from triagebot.store.base import CaseChange, check_next_version

log = logging.getLogger(__name__)

_CLOSED = frozenset(s.value for s in CaseState) - ACTIVE


def _id_rank(case_id: str) -> tuple[int, int, str]:
    return (0, int(case_id), "") if case_id.isdecimal() else (1, 0, case_id)


def newest_first(found: list[tuple[int, str, Any]]) -> None:
    """Sort (time, case id, …) entries newest first, ties by case id (numeric ids by number,
    then the others) also newest first; the id is ranked only where times tie."""
    found.sort(key=itemgetter(0), reverse=True)
    if len(set(map(itemgetter(0), found))) == len(found):
        return  # no two at the same time
    start = 0
    while start < len(found):
        end = start + 1
        while end < len(found) and found[end][0] == found[start][0]:
            end += 1
        if end - start > 1:
            found[start:end] = sorted(found[start:end], key=lambda f: _id_rank(f[1]), reverse=True)
        start = end


class TinyDBStore(Engine):
    """The ``Store`` kept in TinyDB files at ``path`` (see the module docstring for the layout).

    ``segment_capacity`` is the number of closed cases per history segment, ``cache_segments``
    how many parsed segments stay in memory, ``gc_grace`` how many seconds an unreferenced file
    is kept for readers that may still use it.
    """

    # --- cases ---------------------------------------------------------------------------
    def next_case_ids(self, count: int) -> list[str]:
        """Reserve ``count`` fresh case ids from the counter in meta."""
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return []
        with self._transaction() as tx:
            first = int(tx.meta["next_case"])
            tx.meta["next_case"] = first + count
            tx.meta_changed = True
        return [str(n) for n in range(first, first + count)]

    def add_cases(self, new: Sequence[NewCase]) -> list[bool]:
        """Store new cases in one transaction; duplicates of known mentions get ``False``."""
        if not new:
            return []
        prepared = plain(
            [
                (
                    nc.case.to_dict() | {"events": [e.to_dict() for e in nc.events], "refs": {}},
                    [item.to_dict() for item in nc.outbox],
                )
                for nc in new
            ]
        )
        with self._transaction() as tx:
            known = tx.index.mentions  # updated by each insert below
            batch: set[str] = set()  # mention ids of this batch gone to history
            next_case = int(tx.meta["next_case"])
            result: list[bool] = []
            outbox: list[JSON] = []
            for doc, items in prepared:
                mention_id, case_id = doc["mention"]["id"], doc["id"]
                if mention_id in known or mention_id in batch or tx.history.has_mention(mention_id):
                    result.append(False)
                    continue
                if case_id in tx.index.slots or tx.history.get(case_id) is not None:
                    raise ValueError(f"case id {case_id} is already stored")
                result.append(True)
                if doc["state"] in ACTIVE:
                    tx.insert(doc)
                else:
                    batch.add(mention_id)
                    tx.history.put(doc, new=True)
                outbox += items
                if case_id.isdecimal() and int(case_id) >= next_case:
                    next_case = int(case_id) + 1
            if outbox:
                tx.outbox_insert(outbox)
            if next_case != tx.meta["next_case"]:
                tx.meta["next_case"] = next_case
                tx.meta_changed = True
        return result

    def has_mention(self, mention_id: str) -> bool:
        return bool(self.known_mentions([mention_id]))

    def known_mentions(self, mention_ids: Sequence[str]) -> set[str]:
        """Which of these mention ids already have a case (one look-up for a whole batch):
        the active cases' mention index, then the history's."""

        def run() -> set[str]:
            active = self._index.mentions
            known = {m for m in mention_ids if m in active}
            return known | self._history.known_mentions([m for m in mention_ids if m not in known])

        return self._read(run)

    def active_cases_of_mentions(self, mention_ids: Sequence[str]) -> dict[str, str]:
        """From the active cases' mention index."""

        def run() -> dict[str, str]:
            active = self._index.mentions
            return {m: active[m] for m in mention_ids if m in active}

        return self._read(run)

    def get_case(self, case_id: str) -> Case:
        doc = self._read(lambda: self._doc(case_id))
        if doc is None:
            raise CaseNotFound(f"no case {case_id}")
        return self._case(doc)

    def save_case(
        self,
        case: Case,
        expected_version: int,
        events: Sequence[CaseEvent] = (),
        outbox: Sequence[OutboxItem] = (),
    ) -> None:
        """Compare-and-set on ``version``; moves the case between root and history as needed."""
        check_next_version(case, expected_version)
        doc, new_events, items = plain(
            (case.to_dict(), [e.to_dict() for e in events], [i.to_dict() for i in outbox])
        )
        with self._transaction() as tx:
            old, current = tx.find(case.id)
            if current["version"] != expected_version:
                raise VersionConflict(
                    f"case {case.id} is at version {current['version']}, "
                    f"not {expected_version}: it changed meanwhile"
                )
            doc["events"] = [*current.get("events", []), *new_events]
            doc["refs"] = current.get("refs", {})
            tx.store(old, doc)
            if items:
                tx.outbox_insert(items)

    def list_cases(
        self,
        *,
        states: Iterable[CaseState] | None = None,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Case]:
        """Filtered cases, newest ``ingested_at`` first; history segments are opened only
        when their ingested range overlaps ``[since, until)``."""
        wanted = None if states is None else {CaseState(s).value for s in states}
        low = None if since is None else to_us(since)
        high = None if until is None else to_us(until)
        if limit is not None and limit <= 0:
            return []

        def keep(state: str, dept: str, at: int) -> bool:
            return (
                (wanted is None or state in wanted)
                and (department is None or dept == department)
                and (low is None or at >= low)
                and (high is None or at < high)
            )

        def closed_at(doc: JSON) -> int | None:
            at = parse_iso(doc["ingested_at"])
            if at is None:
                return None
            us = to_us(at)
            return us if keep(doc["state"], doc["department"], us) else None

        eager = limit is None  # convert at once, so that parsed segments can be freed

        def run() -> list[tuple[int, str, Case | JSON]]:
            found: list[tuple[int, str, Case | JSON]] = []
            lazy, decode = LazyCase.of, self._decode_packed  # (``_active_case``, per case)
            for packed in self._root.get(CASES, {}).values():
                facts = packed.head[1]
                at = facts[INGESTED]
                if keep(facts[STATE], facts[DEPARTMENT], at):
                    found.append((at, facts[ID], lazy(packed, decode)))
            if wanted is not None and not wanted & _CLOSED:
                return found
            span_low = None if since is None else utc(since)
            span_high = None if until is None else utc(until)
            segments = [info for info in self._segments if info.overlaps(span_low, span_high)]
            segments.sort(key=lambda info: info.max_ingested_at, reverse=True)
            for info in segments:
                if limit is not None and len(found) >= limit:
                    found.sort(key=lambda f: f[0], reverse=True)
                    del found[limit:]
                    if to_us(info.max_ingested_at) < found[-1][0]:
                        break
                for doc in self._history.segment(info, keep=False).values():
                    at = closed_at(doc)
                    if at is not None:
                        found.append((at, doc["id"], self._case(doc) if eager else doc))
            return found

        with gc_paused():
            found = self._read(run)
            newest_first(found)
        return [c if isinstance(c, Case) else self._case(c) for _, _, c in found[:limit]]

    def sla_facts(
        self,
        *,
        states: Iterable[CaseState] | None = None,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SlaFacts]:
        """Facts built from the stored documents without decoding the cases."""
        wanted = None if states is None else {CaseState(s).value for s in states}
        low = None if since is None else to_us(since)
        high = None if until is None else to_us(until)

        def keep(facts: SlaFacts) -> bool:
            at = facts.ingested_us
            return (
                (wanted is None or facts.state in wanted)
                and (department is None or facts.department == department)
                and (low is None or at >= low)
                and (high is None or at < high)
            )

        def run() -> list[SlaFacts]:
            found = [f for p in self._root.get(CASES, {}).values() if keep(f := p.facts)]
            if wanted is not None and not wanted & _CLOSED:
                return found  # closed cases are all in history, active ones all in the root
            for info in self._segments:
                if not info.overlaps(since, until):
                    continue
                kept = self._history.facts(info)
                if kept is None:  # a segment written before facts were kept
                    docs = self._history.segment(info, keep=False).values()
                    kept = [self._facts(doc) for doc in docs]
                found += filter(keep, kept)
            return found

        with gc_paused():
            return self._read(run)

    def active_count(self) -> int:
        """The root holds exactly the active cases: the size of its case index."""
        return self._read(lambda: len(self._index.slots))

    def crosspost_candidates(
        self, urls: Iterable[str], authors: Iterable[str], since: datetime
    ) -> list[Case]:
        """Active cases sharing a key, found through the link and author indexes."""
        low = to_us(since)

        def run() -> list[tuple[int, str, Case]]:
            found = []
            table = self._root.get(CASES, {})
            for case_id in self._index.sharing(urls, authors):
                packed = table[self._index.slots[case_id]]
                at = packed.head[1][INGESTED]
                if at >= low:
                    found.append((at, case_id, self._active_case(packed)))
            return found

        found = self._read(run)  # the caches are used under the store's lock only
        found.sort(key=lambda f: (f[0], _id_rank(f[1])), reverse=True)
        return [case for _, _, case in found]

    def events(self, case_id: str) -> list[CaseEvent]:
        """The case's events, oldest first; empty for an unknown case."""
        doc = self._read(lambda: self._doc(case_id))
        return [] if doc is None else [CaseEvent.from_dict(e) for e in doc.get("events", [])]

    def acted_cases(
        self,
        actions: Iterable[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[Case, list[CaseEvent]]]:
        """Active cases and the history segments that may hold a match (see ``_acted``)."""
        wanted = EventFilter(actions, since, until)

        def run() -> list[tuple[datetime, Case, list[CaseEvent]]]:
            found: list[tuple[datetime, Case, list[CaseEvent]]] = []
            for packed in self._root.get(CASES, {}).values():
                doc = packed.doc(self.path)
                if (at := wanted.first_match(doc)) is not None:
                    found.append((at, self._case(doc), wanted.trail(doc)))
            for info in self._segments:
                if wanted.segment_may_match(self._history.facts(info), info.min_ingested_at):
                    for doc in self._history.segment(info, keep=False).values():
                        if (at := wanted.first_match(doc)) is not None:
                            found.append((at, self._case(doc), wanted.trail(doc)))
            return found

        found = self._read(run)
        found.sort(key=lambda hit: (hit[0], _id_rank(hit[1].id)))
        return [(case, events) for _, case, events in found]

    # --- source cursors ------------------------------------------------------------------
    def get_cursor(self, source: str) -> str | None:
        doc = self._read(lambda: find_doc(self._view()[2], "source", source))
        return None if doc is None else cast(str | None, doc["cursor"])

    def set_cursor(self, source: str, cursor: str | None) -> None:
        with self._transaction() as tx:
            doc = find_doc(tx.cursors, "source", source)
            if doc is not None and cursor is None:
                tx.cursors.remove(doc_ids=[doc.doc_id])
            elif doc is not None and doc["cursor"] != cursor:
                tx.cursors.update({"cursor": cursor}, doc_ids=[doc.doc_id])
            elif doc is None and cursor is not None:
                tx.cursors.insert({"source": source, "cursor": cursor})

    def set_cursors(self, cursors: Mapping[str, str | None]) -> None:
        """``set_cursor`` for many sources in one transaction (one file write)."""
        with self._transaction() as tx:
            docs = {doc["source"]: doc for doc in tx.cursors.all()}
            for source, cursor in cursors.items():
                doc = docs.get(source)
                if doc is not None and cursor is None:
                    tx.cursors.remove(doc_ids=[doc.doc_id])
                elif doc is not None and doc["cursor"] != cursor:
                    tx.cursors.update({"cursor": cursor}, doc_ids=[doc.doc_id])
                elif doc is None and cursor is not None:
                    tx.cursors.insert({"source": source, "cursor": cursor})

    # --- outbox --------------------------------------------------------------------------
    def lease_outbox(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Due items, oldest first, hidden until ``now + lease``; writes only if any is due.
        Found through the outbox's lease order (``OutboxIndex``), not by reading every item."""
        if limit <= 0:
            return []
        now = utc(now)
        hidden_until = iso(now + lease)
        with self._transaction() as tx:
            taken = tx.outbox_due(now, limit)
            for slot, _ in taken:
                tx.outbox_update(slot, {"next_attempt_at": hidden_until})
        return [OutboxItem.from_dict(d | {"next_attempt_at": hidden_until}) for _, d in taken]

    def queue_outbox(self, items: Sequence[OutboxItem]) -> list[bool]:
        with self._transaction() as tx:
            queued: set[str] = set()
            added: list[bool] = []
            docs: list[JSON] = []
            for item in items:
                added.append(item.id not in queued and not tx.outbox_has(item.id))
                if added[-1]:
                    queued.add(item.id)
                    docs.append(item.to_dict())
            if docs:
                tx.outbox_insert(docs)  # each kept as its JSON: a copy of its own
        return added

    def complete_outbox(self, item_id: str) -> None:
        with self._transaction() as tx:
            found = tx.outbox_get(item_id)
            if found is not None:
                tx.outbox_remove(found[0])

    def finish_delivery(
        self,
        item_id: str,
        case_id: str,
        refs: Sequence[MessageRef] = (),
        change: CaseChange | None = None,
    ) -> None:
        """Refs, the case's change and the item's removal in one transaction (one write)."""
        if change is not None:
            check_next_version(change.case, change.expected_version)
            if change.case.id != case_id:
                raise ValueError(f"the change is of case {change.case.id}, not {case_id}")
        new_refs = plain({ref.surface: ref.to_dict() for ref in refs})
        doc, new_events, items = plain(
            (None, [], [])
            if change is None
            else (
                change.case.to_dict(),
                [e.to_dict() for e in change.events],
                [i.to_dict() for i in change.outbox],
            )
        )
        with self._transaction() as tx:
            if doc is not None or new_refs:
                old, current = tx.find(case_id)
                if change is not None and current["version"] != change.expected_version:
                    raise VersionConflict(
                        f"case {case_id} is at version {current['version']}, "
                        f"not {change.expected_version}: it changed meanwhile"
                    )
                stored: dict[str, Any] = current.get("refs", {})
                if doc is not None:
                    doc["events"] = [*current.get("events", []), *new_events]
                    doc["refs"] = stored | new_refs
                    tx.store(old, doc)
                elif any(stored.get(surface) != value for surface, value in new_refs.items()):
                    tx.store(old, current | {"refs": stored | new_refs})
                if items:
                    tx.outbox_insert(items)
            done = tx.outbox_get(item_id)
            if done is not None:
                tx.outbox_remove(done[0])

    def retry_outbox(self, item: OutboxItem) -> None:
        fields = item.to_dict()
        with self._transaction() as tx:
            found = tx.outbox_get(item.id)
            if found is not None:
                changed = ("attempts", "next_attempt_at", "last_error", "done")
                tx.outbox_update(found[0], plain({k: fields[k] for k in changed}))

    def renew_outbox(self, items: Sequence[OutboxItem], until: datetime | None) -> list[OutboxItem]:
        held = {item.id: utc(item.next_attempt_at) for item in items if item.next_attempt_at}
        if not held:
            return []
        value = None if until is None else iso(until)
        with self._transaction() as tx:
            moved: dict[str, str] = {}
            for item_id, at in held.items():
                found = tx.outbox_get(item_id)
                if found is not None and parse_iso(found[1]["next_attempt_at"]) == at:
                    moved[item_id] = found[0]
            for slot in moved.values():
                tx.outbox_update(slot, {"next_attempt_at": value})
        return [replace(i, next_attempt_at=until) for i in items if i.id in moved]

    def pending_outbox(self) -> int:
        return self._read(lambda: len(self._view()[1]))

    # --- message refs --------------------------------------------------------------------
    def set_message_ref(self, case_id: str, ref: MessageRef) -> None:
        value = plain(ref.to_dict())
        with self._transaction() as tx:
            old, current = tx.find(case_id)
            refs: dict[str, Any] = current.get("refs", {})
            if refs.get(ref.surface) != value:
                tx.store(old, current | {"refs": refs | {ref.surface: value}})

    def message_refs(self, case_id: str) -> dict[str, MessageRef]:
        doc = self._read(lambda: self._doc(case_id))
        refs: dict[str, Any] = {} if doc is None else doc.get("refs", {})
        return {surface: MessageRef.from_dict(r) for surface, r in refs.items()}

    # --- places --------------------------------------------------------------------------
    def remember_place(self, surface: str, place_id: str, data: Mapping[str, Any]) -> None:
        value = plain(dict(data))
        with self._transaction() as tx:
            doc = tx.places.get((Query().surface == surface) & (Query().id == place_id))
            if doc is None:
                tx.places.insert({"surface": surface, "id": place_id, "data": value})
            elif doc["data"] != value:
                tx.places.update({"data": value}, doc_ids=[doc.doc_id])

    def places(self, surface: str) -> dict[str, dict[str, Any]]:
        def run() -> dict[str, dict[str, Any]]:
            docs = self._root.get(PLACES, {}).values()
            return {d["id"]: plain(d["data"]) for d in docs if d.get("surface") == surface}

        return self._read(run)

    # --- lifecycle -----------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Make sure the file exists and records its format; give every history segment of an
        earlier version its SLA facts file; keep each active case's cross-post keys beside it;
        qualify the actors an earlier version stored; write a store older than the journal as
        a snapshot continued by one."""
        done: list[str] = []
        unjournaled = self._read(lambda: self._journal is None and self._sig is not None)
        older = self._read(lambda: self._sig is not None and self._snapshot_format < FORMAT)
        with self._transaction() as tx:
            if not self.path.exists() or tx.meta_table.get(doc_id=META_ID) is None:
                tx.meta_changed = True
            # Without a facts file, or with one of an earlier version's shape.
            bare = [info for info in self._segments if self._history.facts(info) is None]
            if bare:
                tx.meta["segments"] = [
                    (self._history.write_facts(info) if info in bare else info).to_dict()
                    for info in self._segments
                ]
                tx.meta_changed = True
            if not tx.meta.get(QUALIFIED_ACTORS):
                count = qualify_actors(tx, self._history, self._segments)
                if count:
                    done.append(f"qualified the actors of {count} cases by their surfaces")
        if bare:
            done.insert(0, f"wrote SLA facts files for {len(bare)} history segments")
        if unjournaled:
            self.compact()
            done.append(f"wrote the store as a snapshot continued by a journal (format {FORMAT})")
        elif older and self.compact(force=True):  # else another process is compacting it
            done.append(f"wrote the store's snapshot, active cases compressed (format {FORMAT})")
        return done

    def qualify_actors_if_needed(self) -> None:
        """Qualify an earlier version's actors when this store still holds some (at open)."""
        if self._meta.get(QUALIFIED_ACTORS) or not (self._root.get(CASES) or self._segments):
            return
        for line in self.migrate():
            log.info("%s: %s", self.path, line)
