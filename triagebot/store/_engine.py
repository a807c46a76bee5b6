"""Transactions of the TinyDB store: the root in memory, locking, commits, journal, cleanup.

``Engine`` keeps the root file (a snapshot; its active cases as ``_packed`` documents) brought
up to date by the journal (``_journal``). Before each read or write it looks whether the root
file on disk is another one (device, inode, size and mtime; the descriptor of the loaded file
stays open so its inode number cannot be reused) and whether the journal grew, and applies only
the new records. A write transaction holds a thread lock and an ``flock`` on the lock file,
works on the in-memory tables (the cases and the outbox through ``Tx``'s methods, the others
through a fresh ``TinyDB`` whose tables note the documents they touch) and, if anything changed,
writes new history segments first and then appends one fsynced journal record of the touched
documents: the commit point. A failed transaction drops the in-memory state, which is
re-read from disk.

Why a journal: rewriting the root on every write cost ~20 µs per active case (a claim took
0.2-0.8 s with 50,000 active cases, most of it encoding and fsyncing the whole root); a record
costs the size of the change (a claim ~2 KB: p50 ~4 ms, p99 8-16 ms with fsync at 300 to
50,300 active cases). A file per case costs a write about as much but a cold open far more, and
a change of several documents would still need a commit record of its own (both measured:
``python -m bench.bench_active --layouts``; docs/benchmarks.md, "Many active cases").

Compaction writes a new snapshot once the journal is a quarter of the snapshot's size (at least
``compact_bytes``), so its cost, proportional to the store, is spread over as many bytes of
records, and a cold open replays at most that much. A small store compacts on a thread of the
writing process (the write has returned; the file is written without the locks); a large one
in a child process
(``python -m triagebot.store._compact``), which holds the file lock only to end the journal
with a ``next`` record and to rename its snapshot into place, so writers wait milliseconds, and
whose parsing and encoding take no time from this process. A process whose position in the
journal chain is past the point the new snapshot covers adopts it without reading it. Files
that left the root's segment list are deleted only after a grace period, for readers that may
still use them; journals that a snapshot covers are deleted by the compaction after next.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Self, TypeVar, cast

import orjson
from tinydb import Query
from tinydb.table import Document, Table

from triagebot.cases.facts import SlaFacts, gc_paused, sla_facts_of_doc
from triagebot.cases.records import ACTIVE_STATES, JSON, Case
from triagebot.errors import CaseNotFound, StoreError
from triagebot.store._atomic import (
    TMP_MARK,
    FileLock,
    dump_json,
    fsync_dir,
    write_new_file,
    write_temp,
)
from triagebot.store._frozen import freeze_loaded, freeze_long_lived
from triagebot.store._history import SEGMENT_PREFIX, History, HistoryTx, SegmentInfo
from triagebot.store._index import KEYS_FIELD, ActiveIndex
from triagebot.store._journal import (
    Changes,
    append,
    decode_records,
    encode_record,
    journal_number,
    journal_path,
    read_from,
)
from triagebot.store._lazy import LazyCase
from triagebot.store._outbox import OutboxIndex, QueuedItem, queued
from triagebot.store._packed import Packed, encode_cases, pack
from triagebot.store._root import (
    CASES,
    CURSORS,
    FORMAT,
    META,
    META_ID,
    OUTBOX,
    PLACES,
    RootStorage,
    Tables,
    open_db,
    read_root,
    root_meta,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_Signature = tuple[int, int, int, int]
ACTIVE = frozenset(s.value for s in ACTIVE_STATES)

#: Root documents written and active cases decoded by this process after which the garbage
#: collector's full scans are relieved of everything then alive (``Engine._kept``).
FREEZE_AT = 1_000
#: Compaction waits for at least this many journal bytes (and a quarter of the snapshot's size).
COMPACT_BYTES = 256 << 10
#: Stores whose snapshot and journal together are smaller compact on a thread of the writer.
INLINE_COMPACT_BYTES = 4 << 20
#: Seconds between two child compactions this process starts (one that another process's
#: compaction made give up at once, or that failed, is not started again at every write).
COMPACT_RETRY = 30.0
#: A snapshot starts with its meta document, whose first key is the journal continuing it.
_HEAD = re.compile(rb'\{"meta":\{"1":\{"journal":(\d+),')


def plain(data: _T) -> _T:
    """A JSON round trip: a private, plain copy that is known to serialise. Parsed by orjson,
    whose documents share their keys (``json`` gives every document its own copy of each), or
    by ``json`` where orjson refuses what ``dump_json`` wrote (a lone surrogate, an int beyond
    64 bits)."""
    encoded = dump_json(data)
    try:
        return cast(_T, orjson.loads(encoded))
    except orjson.JSONDecodeError:
        return cast(_T, json.loads(encoded))


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def find_doc(table: Table, key: str, value: str) -> Document | None:
    return table.get(Query()[key] == value)


class Tx:
    """One write transaction: the in-memory root (cases through ``ActiveIndex``, the other
    tables through a TinyDB) plus the history changes."""

    def __init__(
        self,
        root: Tables,
        meta: JSON,
        history: HistoryTx,
        index: ActiveIndex,
        outbox: OutboxIndex,
        *,
        path: Path,
    ) -> None:
        self.storage = RootStorage(root)
        self.path = path
        db = open_db(self.storage)
        #: Cases (``Packed`` documents) and the outbox are changed through the methods below,
        #: which keep ``index`` and ``outbox_index``.
        self.cursors = db.table(CURSORS)
        self.outbox_index = outbox
        self.meta_table = db.table(META)
        self.places = db.table(PLACES)
        self.meta = dict(meta)
        self.meta_before = meta
        self.meta_changed = False
        self.history = history
        self.index = index

    @property
    def dirty(self) -> bool:
        return self.storage.writes > 0 or self.meta_changed or self.history.changed

    @property
    def _cases(self) -> dict[str, Packed]:
        return self.storage.data.setdefault(CASES, {})

    def active_slots(self) -> list[tuple[str, Packed]]:
        """(slot, packed document) of every active case, for whole-store migrations."""
        return list(self._cases.items())

    def find(self, case_id: str) -> tuple[str | None, JSON]:
        """(slot in the root or None, the case document: a private copy); raises
        ``CaseNotFound``."""
        slot = self.index.slots.get(case_id)
        if slot is not None:
            return slot, self._cases[slot].doc(self.path)
        closed = self.history.get(case_id)
        if closed is None:
            raise CaseNotFound(f"no case {case_id}")
        return None, closed

    def insert(self, doc: JSON) -> None:
        """Put a new active case document into the root, with its cross-post keys."""
        self.storage.writes += 1  # before any change: a failure from here reloads the root
        slot = str(self.index.last_slot + 1)
        packed = pack(slot, doc)
        self.storage.touch(CASES, slot)
        self._cases[slot] = packed
        self.index.add(slot, packed)

    def replace(self, slot: str, doc: JSON) -> None:
        """Replace the root document in ``slot`` (the same case) by ``doc``."""
        self.storage.writes += 1
        self.storage.touch(CASES, slot)
        packed = pack(slot, doc)
        self.index.remove(self._cases[slot])
        self._cases[slot] = packed
        self.index.add(slot, packed)

    def drop(self, slot: str) -> None:
        self.storage.writes += 1
        self.storage.touch(CASES, slot)
        self.index.remove(self._cases.pop(slot))

    def store(self, slot: str | None, doc: JSON) -> None:
        """Put the case document where its state says: the root if active, else history."""
        if doc["state"] in ACTIVE:
            if slot is not None:
                self.replace(slot, doc)
            else:
                self.history.remove(doc["id"])
                self.insert(doc)
        else:
            if slot is not None:
                self.drop(slot)
            closed = {k: v for k, v in doc.items() if k != KEYS_FIELD}
            self.history.put(closed, new=slot is not None)

    # --- the outbox, by item id and in lease order (``OutboxIndex``) -----------------------
    @property
    def _outbox(self) -> dict[str, QueuedItem]:
        return self.storage.data.setdefault(OUTBOX, {})

    def outbox_get(self, item_id: str) -> tuple[str, JSON] | None:
        """(slot, document) of the queued item ``item_id``, if it is queued."""
        slot = self.outbox_index.slots.get(item_id)
        return None if slot is None else (slot, self._outbox[slot].doc(self.path))

    def outbox_has(self, item_id: str) -> bool:
        return item_id in self.outbox_index.slots

    def outbox_insert(self, docs: Iterable[JSON]) -> None:
        """Queue new items' documents (ids not queued yet)."""
        for doc in docs:
            self.storage.writes += 1  # before any change: a failure from here reloads the root
            slot = str(self.outbox_index.last_slot + 1)
            item = queued(doc)
            self.storage.touch(OUTBOX, slot)
            self._outbox[slot] = item
            self.outbox_index.add(slot, item)

    def outbox_update(self, slot: str, fields: JSON) -> None:
        """Change fields of the item in ``slot``."""
        self.storage.writes += 1
        self.storage.touch(OUTBOX, slot)
        old = self._outbox[slot]
        new = queued(old.doc(self.path) | fields)
        self.outbox_index.remove(old)
        self._outbox[slot] = new
        self.outbox_index.add(slot, new)

    def outbox_remove(self, slot: str) -> None:
        self.storage.writes += 1
        self.storage.touch(OUTBOX, slot)
        self.outbox_index.remove(self._outbox.pop(slot))

    def outbox_due(self, now: datetime, limit: int) -> list[tuple[str, JSON]]:
        """(slot, document) of up to ``limit`` items due at ``now``, oldest first."""
        table = self._outbox
        return [
            (slot, table[slot].doc(self.path)) for slot in self.outbox_index.due(table, now, limit)
        ]

    def record(self) -> JSON:
        """The journal record of this transaction: the touched documents as they are now (None
        for a removed one) by table, and of the meta document only what changed
        (``meta_patch``)."""
        data = self.storage.data
        record: JSON = {
            "t": {
                name: {doc_id: data.get(name, {}).get(doc_id) for doc_id in sorted(ids)}
                for name, ids in self.storage.touched.items()
                if name != META
            }
        }
        if META in self.storage.touched:
            record["meta"] = meta_patch(self.meta_before, data[META][str(META_ID)])
        return record


def meta_patch(before: JSON, after: JSON) -> JSON:
    """The keys of the meta document that changed, the segment list by segment (``seq`` ->
    its entry, None when it left): a resolve's record names the one segment it rewrote, not
    the whole history."""
    changed = {k: v for k, v in after.items() if k != "segments" and before.get(k) != v}
    patch: JSON = {"set": changed}
    old = {s["seq"]: s for s in before.get("segments", [])}
    new = {s["seq"]: s for s in after.get("segments", [])}
    segments = {str(seq): info for seq, info in new.items() if old.get(seq) != info}
    segments |= {str(seq): None for seq in old.keys() - new.keys()}
    if segments:
        patch["segments"] = segments
    return patch


def apply_meta_patch(doc: JSON, patch: JSON) -> None:
    """``meta_patch`` applied to the meta document ``doc`` (in place; segments in ``seq``
    order, the order history keeps them in)."""
    doc.update(patch.get("set", {}))
    if "segments" in patch:
        by_seq = {s["seq"]: s for s in doc.get("segments", [])}
        for seq, info in patch["segments"].items():
            if info is None:
                by_seq.pop(int(seq), None)
            else:
                by_seq[int(seq)] = info
        doc["segments"] = [by_seq[seq] for seq in sorted(by_seq)]


class Engine:
    """Root file, journal, locks and transactions shared by the store's operations.

    ``compact_bytes`` is the least journal size that makes a write compact the store.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        segment_capacity: int = 500,
        cache_segments: int = 4,
        gc_grace: float = 300.0,
        compact_bytes: int = COMPACT_BYTES,
    ) -> None:
        self.path = Path(path)
        name = self.path.name.removesuffix(".json") if self.path.suffix == ".json" else None
        self.history_dir = self.path.with_name(f"{name or self.path.name}.history")
        self.segment_capacity = segment_capacity
        self.gc_grace = gc_grace
        self.compact_bytes = compact_bytes
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create ({exc.strerror})") from exc
        self._lock = threading.RLock()
        self._flock = FileLock(self.path.with_name(self.path.name + ".lock"))
        self._compact_lock = FileLock(self.path.with_name(self.path.name + ".compact.lock"))
        self._history = History(self.history_dir, cache_segments)
        self._root: Tables = {}
        self._meta: JSON = {}
        self._segments: list[SegmentInfo] = []
        self._sig: _Signature | None = None
        self._fd: int | None = None
        self._loaded = False
        self._closed = False
        self._last_scan = -math.inf
        #: The journal the snapshot in memory starts with (None: a root older than journals,
        #: or no root yet), the one read now and the offset after its last record applied.
        self._first_journal: int | None = None
        self._journal: int | None = None
        self._offset = 0
        #: Size of the snapshot loaded and of the journal records applied since.
        self._snapshot_bytes = 0
        self._journal_bytes = 0
        #: The format of the root file read (``migrate`` rewrites an earlier one).
        self._snapshot_format = FORMAT
        self._compactor: subprocess.Popen[bytes] | None = None
        self._compact_thread: threading.Thread | None = None
        self._compact_after = -math.inf
        self._unfrozen = 0
        self._index = ActiveIndex({})
        self._outbox = OutboxIndex()
        with self._lock:
            self._refresh()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- root file and journal -----------------------------------------------------------
    def _stat_root(self) -> _Signature | None:
        try:
            return _signature(os.stat(self.path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from exc

    def _refresh(self) -> None:
        """Bring the state in memory up to what is on disk: the journal's new records, or the
        root file if another one replaced it (adopted unread when this state already covers
        it)."""
        for _ in range(5):
            sig = self._stat_root()
            if not self._loaded or (sig != self._sig and not self._adopt()):
                self._load()
            if self._catch_up():
                return
            self._loaded = False  # a journal went away under an unchanged root: read again
        raise StoreError(f"{self.path}: the store kept changing while it was read")

    def _load(self) -> None:
        """Read the root file afresh (the journal is read after by ``_catch_up``)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._install({}, None, None)
            return
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from exc
        with gc_paused():  # a large root is many small objects, all alive
            try:
                st = os.fstat(fd)
                sig, size = _signature(st), st.st_size
                os.lseek(fd, 0, os.SEEK_SET)
                with io.BufferedReader(io.FileIO(fd, "rb", closefd=False), 1 << 20) as stream:
                    root = read_root(stream, self.path)
            except OSError as exc:
                os.close(fd)
                raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from exc
            except BaseException:
                os.close(fd)
                raise
            log.debug("loaded %s (%d bytes)", self.path, size)
            meta = root.get(META, {}).get(str(META_ID), {})
            self._snapshot_format = int(meta.get("format", 1))
            self._install(root, sig, fd)
            if sum(len(root.get(name, {})) for name in (CASES, OUTBOX)) >= FREEZE_AT:
                self._unfrozen = 0
                freeze_loaded()
        self._snapshot_bytes = size

    def _adopt(self) -> bool:
        """Take a root file written by a compaction without reading it, when the state in
        memory, brought to the journal that snapshot starts with, is the same state."""
        if self._journal is None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        adopted = False
        try:
            head = _HEAD.match(os.pread(fd, 64, 0))
            if head is None:
                return False
            number = int(head.group(1))
            if not self._catch_up(until=number) or self._journal < number:
                return False
            st = os.fstat(fd)
            if self._fd is not None:
                os.close(self._fd)
            self._fd, self._sig, self._first_journal = fd, _signature(st), number
            self._snapshot_bytes, self._journal_bytes = st.st_size, self._offset
            adopted = True
            return True
        finally:
            if not adopted:
                os.close(fd)

    def _catch_up(self, until: int | None = None) -> bool:
        """Apply the journal records not applied yet, following ``next`` records (not past
        journal ``until``); False when a journal vanished under a root that changed."""
        changed = False
        try:
            while self._journal is not None:
                path = journal_path(self.path, self._journal)
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:
                    return self._stat_root() == self._sig
                if size == self._offset:
                    return True
                data = read_from(path, self._offset) if size > self._offset else None
                if data is None:
                    return self._stat_root() == self._sig and size >= self._offset
                moved = False
                for record in decode_records(data, self._offset, path):
                    self._journal_bytes += record.end - self._offset
                    self._offset = record.end
                    nxt = record.payload.get("next")
                    if nxt is not None:
                        self._journal, self._offset, moved = int(nxt), 0, True
                        break
                    self._apply(record.payload)
                    changed = True
                if not moved or (until is not None and self._journal >= until):
                    return True
            return True
        finally:
            if changed:
                self._meta, self._segments = root_meta(self._root, self.path)
                self._history.sync(self._segments)

    def _apply(self, payload: JSON) -> None:
        """One journal record's documents into the tables in memory and the active index."""
        changes: Changes = payload.get("t", {})
        try:
            if "meta" in payload:
                meta = self._root.setdefault(META, {}).setdefault(str(META_ID), {})
                apply_meta_patch(meta, payload["meta"])
            for name, docs in changes.items():
                table = self._root.setdefault(name, {})
                for doc_id, doc in docs.items():
                    old = table.get(doc_id)
                    if name == CASES and old is not None:
                        self._index.remove(old)
                    elif name == OUTBOX and old is not None:
                        self._outbox.remove(old)
                    if doc is None:
                        table.pop(doc_id, None)
                        continue
                    if name == CASES:
                        packed = table[doc_id] = pack(doc_id, doc)
                        self._index.add(doc_id, packed)
                    elif name == OUTBOX:
                        item = table[doc_id] = queued(doc)
                        self._outbox.add(doc_id, item)
                    else:
                        table[doc_id] = doc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._loaded = False
            raise StoreError(f"{self.path}: a journal record is malformed ({exc!r})") from None

    def _install(
        self, root: Tables, sig: _Signature | None, fd: int | None, tx: Tx | None = None
    ) -> None:
        """Make ``root`` the current one: the file just read (indexes built afresh), or the one
        ``tx`` committed (its indexes kept up to date by the transaction)."""
        meta, segments = root_meta(root, self.path)
        if tx is None:
            index = ActiveIndex(root.setdefault(CASES, {}))  # its maps built when first read
            try:
                outbox = OutboxIndex.build(root.get(OUTBOX, {}))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                if fd is not None:
                    os.close(fd)
                raise StoreError(f"{self.path}: an outbox item is malformed ({exc!r})") from None
            self._first_journal = self._journal = meta["journal"]
            self._offset = self._journal_bytes = 0
            self._snapshot_bytes = 0
        else:
            index, outbox = tx.index, tx.outbox_index
        self._meta, self._segments, self._index = meta, segments, index
        self._outbox = outbox
        if fd is not None or tx is None:
            if self._fd is not None:
                os.close(self._fd)
            self._sig, self._fd = sig, fd
        self._root, self._loaded = root, True
        self._history.sync(self._segments)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")

    def _read(self, fn: Callable[[], _T]) -> _T:
        """Run a read against the current root; retry once if a segment vanished meanwhile."""
        with self._lock:
            self._check_open()
            self._refresh()
            try:
                return fn()
            except FileNotFoundError:
                self._refresh()
                try:
                    return fn()
                except FileNotFoundError as exc:
                    raise StoreError(f"{exc.filename}: history file is missing") from None

    def _view(self) -> tuple[Table, Table, Table]:
        db = open_db(RootStorage(self._root))
        return db.table(CASES), db.table(OUTBOX), db.table(CURSORS)

    @contextmanager
    def _transaction(self) -> Iterator[Tx]:
        with self._lock:
            self._check_open()
            self._flock.acquire()
            try:
                self._refresh()
                history = HistoryTx(
                    self._history, int(self._meta["next_segment"]), self.segment_capacity
                )
                tx = Tx(self._root, self._meta, history, self._index, self._outbox, path=self.path)
                try:
                    yield tx
                    if tx.dirty:
                        self._commit(tx)
                except FileNotFoundError as exc:
                    self._loaded = False
                    raise StoreError(f"{exc.filename}: history file is missing") from None
                except BaseException:
                    if tx.dirty:
                        self._loaded = False  # the in-memory tables may be half changed
                    raise
            finally:
                self._flock.release()
        if tx.dirty:
            self._maybe_compact()
            self._kept(sum(map(len, tx.storage.touched.values())))

    def _kept(self, count: int) -> None:
        """Note ``count`` documents or decoded cases that will live long; past ``FREEZE_AT``
        since the last time, move everything alive out of the garbage collector's full scans
        (``freeze_long_lived``: a young collection first, so that fresh cyclic garbage is
        not kept with it, and a full one of the frozen objects at most hourly). The root's
        documents and the decoded cases hold no cycles (reference counting still frees a
        replaced one); a full collection walking the root of 20,000 active cases paused every
        thread of the process for 0.2-0.6 s, ``/healthz`` included."""
        self._unfrozen += count
        if self._unfrozen >= FREEZE_AT:
            self._unfrozen = 0
            freeze_long_lived()

    def _commit(self, tx: Tx) -> None:
        """Write new segments, then the journal record (the commit point); then forget and
        clean up.

        On failure nothing is deleted: files that no root references are orphans, removed by
        a later scan, and one that a root did end up naming must stay.
        """
        now = time.time()
        meta = tx.meta
        garbage: list[JSON] = list(meta["garbage"])
        installs: list[tuple[str, dict[str, JSON]]] = []
        try:
            if tx.history.changed:
                changes = tx.history.finish()
                fresh_dir = not self.history_dir.exists()
                self.history_dir.mkdir(exist_ok=True)
                for name, data in changes.files:
                    write_new_file(self.history_dir / name, data)
                fsync_dir(self.history_dir)
                if fresh_dir:
                    fsync_dir(self.history_dir.parent)
                meta["segments"] = [info.to_dict() for info in changes.segments]
                meta["next_segment"] = tx.history.next_seq
                garbage += [{"file": name, "since": now} for name in changes.replaced]
                installs = changes.installs
        except OSError as exc:
            raise StoreError(f"{self.history_dir}: cannot write ({exc.strerror})") from exc
        due = [g["file"] for g in garbage if now - float(g["since"]) >= self.gc_grace]
        meta["garbage"] = [g for g in garbage if g["file"] not in due]
        meta["format"] = FORMAT
        if meta != tx.storage.data.get(META, {}).get(str(META_ID)):  # else not journaled again
            tx.meta_table.upsert(Document(meta, doc_id=META_ID))
        if self._journal is None:  # no root yet, or one older than the journal: a snapshot
            self._write_snapshot(tx.storage.data, self._next_journal())
        else:
            record = encode_record(tx.record())
            append(journal_path(self.path, self._journal), self._offset, record)
            self._offset += len(record)
            self._journal_bytes += len(record)
        self._install(tx.storage.data, None, None, tx)
        for name, segment in installs:
            self._history.install(name, segment)
        self._collect(due, now)

    # --- compaction ----------------------------------------------------------------------
    def _next_journal(self) -> int:
        """A journal number above every journal file on disk."""
        numbers = [journal_number(self.path, p) for p in self.path.parent.iterdir()]
        return max([n for n in numbers if n is not None], default=0) + 1

    def _snapshot_bytes_of(self, root: Tables, journal: int) -> bytes:
        """The root as a snapshot continued by ``journal``: a first line of the tables other
        than the cases (meta first, journal its first key), then the active cases
        (``_packed.encode_cases``)."""
        meta = {"journal": journal} | {
            k: v for k, v in root.get(META, {}).get(str(META_ID), {}).items() if k != "journal"
        }
        meta["format"] = FORMAT
        root.setdefault(META, {})[str(META_ID)] = meta
        tables = {META: root[META]} | {k: v for k, v in root.items() if k not in (META, CASES)}
        cases = root.get(CASES)
        first = dump_json(tables)
        return first if not cases else first + b"\n" + encode_cases(cases.values())

    def _write_snapshot(self, root: Tables, journal: int) -> None:
        """Replace the root file by a snapshot of ``root`` continued by the empty ``journal``;
        under the file lock."""
        tmp, fd = write_temp(self.path, self._snapshot_bytes_of(root, journal))
        try:
            journal_path(self.path, journal).unlink(missing_ok=True)  # stale: none follows it
        except OSError as exc:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{self.path}: cannot write ({exc.strerror})") from exc
        self._journal, self._offset = journal, 0
        self._swap_in(tmp, fd, journal, root)

    def _swap_in(self, tmp: Path, fd: int, journal: int, root: Tables) -> None:
        """Rename a written snapshot over the root file (under the file lock) and delete the
        journals that the snapshot before the replaced one covered. The position in the journal
        stays: the state in memory covers at least what the snapshot holds."""
        try:
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
            sig = _signature(os.fstat(fd))
            size = os.fstat(fd).st_size
        except OSError as exc:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{self.path}: cannot write ({exc.strerror})") from exc
        older = self._first_journal
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._sig, self._first_journal = fd, sig, journal
        self._journal_bytes = self._offset if self._journal == journal else 0
        self._snapshot_bytes = size
        self._snapshot_format = FORMAT
        self._meta = root_meta(root, self.path)[0]
        for path in self.path.parent.iterdir():
            number = journal_number(self.path, path)
            if number is not None and number < (older or journal) and number != journal:
                path.unlink(missing_ok=True)

    def _due_for_compaction(self) -> bool:
        if self._journal is None:
            return False
        return self._journal_bytes >= max(self.compact_bytes, self._snapshot_bytes // 4)

    def _maybe_compact(self) -> None:
        """Compact after a write that made the journal long enough: on a thread of this process
        for a small store, else in a child process (at most one of each running)."""
        if not self._due_for_compaction():
            return
        if self._snapshot_bytes + self._journal_bytes <= INLINE_COMPACT_BYTES:
            if self._compact_thread is None or not self._compact_thread.is_alive():
                self._compact_thread = threading.Thread(
                    target=self._compact_quietly, name="triagebot-compact", daemon=True
                )
                self._compact_thread.start()
            return
        if self._compactor is not None and self._compactor.poll() is None:
            return
        now = time.monotonic()
        if now < self._compact_after:
            return
        self._compact_after = now + COMPACT_RETRY
        try:
            self._compactor = subprocess.Popen(
                [sys.executable, "-m", "triagebot.store._compact", str(self.path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            log.warning("%s: cannot start compaction (%s); compacting here", self.path, exc)
            self._compact_quietly()

    def _compact_quietly(self) -> None:
        """``compact`` after a write that has committed: a failure is logged, not raised (the
        write stands; the journal stays until a later compaction succeeds)."""
        try:
            self.compact()
        except StoreError as exc:
            log.warning("%s: compaction failed: %s", self.path, exc)

    def compact(self, *, force: bool = False) -> bool:
        """Write a snapshot of the whole store and drop the journals it covers (``force``: even
        when no record follows the snapshot); False when another compaction is running.
        Writers of other processes wait only while the journal is ended with a ``next`` record
        and while the snapshot is renamed into place; this process's other threads also while
        the snapshot is encoded (not written)."""
        if not self._compact_lock.try_acquire():
            return False
        try:
            with self._lock:
                self._check_open()
                self._refresh()  # a fresh process parses the store here, without the file lock
                self._flock.acquire()
                try:
                    self._refresh()
                    journal, sig = self._journal, self._sig
                    if journal is None:
                        self._write_snapshot(self._root, self._next_journal())
                        return True
                    if self._offset == 0 and not force:
                        return True  # nothing after the snapshot's journal start
                    end = encode_record({"next": journal + 1})
                    append(journal_path(self.path, journal), self._offset, end)
                    self._journal, self._offset = journal + 1, 0
                finally:
                    self._flock.release()
                data = self._snapshot_bytes_of(self._root, journal + 1)
            tmp, fd = write_temp(self.path, data)  # the slow part: no lock held
            with self._lock:
                self._flock.acquire()
                try:
                    if self._closed or self._stat_root() != sig:  # stale: another replaced it
                        os.close(fd)
                        tmp.unlink(missing_ok=True)
                        return False
                    self._swap_in(tmp, fd, journal + 1, self._root)
                finally:
                    self._flock.release()
            log.info("%s: compacted (%d bytes)", self.path, len(data))
            return True
        finally:
            self._compact_lock.release()

    def _collect(self, due: Iterable[str], now: float) -> None:
        """Delete files that left the garbage list; now and then, orphans of crashed writes."""
        for name in due:
            (self.history_dir / name).unlink(missing_ok=True)
        if now - self._last_scan < max(self.gc_grace, 60.0):
            return
        self._last_scan = now
        keep = {g["file"] for g in self._meta["garbage"]}
        keep.update(n for info in self._segments for n in info.files)
        candidates: list[Path] = []
        if self.history_dir.is_dir():
            candidates += [
                p
                for p in self.history_dir.iterdir()
                if p.name not in keep and (p.name.startswith(SEGMENT_PREFIX) or TMP_MARK in p.name)
            ]
        candidates += self.path.parent.glob(f".{self.path.name}{TMP_MARK}*")
        for path in candidates:
            try:
                if now - path.stat().st_mtime >= self.gc_grace:
                    path.unlink()
                    log.info("removed unreferenced file %s", path)
            except OSError as exc:
                log.warning("cannot remove unreferenced file %s: %s", path, exc)

    def _active_docs(self) -> list[JSON]:
        """Every active case's document (private copies); under the store's lock."""
        return [packed.doc(self.path) for packed in self._root.get(CASES, {}).values()]

    def _doc(self, case_id: str) -> JSON | None:
        """The document of case ``case_id``, active (a private copy) or closed."""
        slot = self._index.slots.get(case_id)
        if slot is not None:
            return cast(Packed, self._root[CASES][slot]).doc(self.path)
        info = self._history.locate(case_id)
        return None if info is None else self._history.segment(info).get(case_id)

    def _case(self, doc: JSON) -> Case:
        try:
            return Case.from_dict(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self.path}: case {doc.get('id')!r} is malformed ({exc!r})"
            ) from None

    def _active_case(self, packed: Packed) -> Case:
        """The case of an active (packed) document, decoded field by field when read."""
        return LazyCase.of(packed, self._decode_packed)

    def _decode_packed(self, packed: Packed) -> Case:
        return self._case(packed.doc(self.path))

    def _facts(self, doc: JSON) -> SlaFacts:
        try:
            return sla_facts_of_doc(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self.path}: case {doc.get('id')!r} is malformed ({exc!r})"
            ) from None

    def close(self) -> None:
        """Close the store, after a compaction this process runs on a thread has finished (a
        child process's goes on by itself)."""
        thread = self._compact_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
