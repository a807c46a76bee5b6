"""Transactions of the TinyDB store: the root file in memory, locking, commits and cleanup.

``Engine`` keeps the parsed root file and reloads it whenever the file on disk is another one
(compared by device, inode, size and mtime; the descriptor of the loaded file stays open so
its inode number cannot be reused). A write transaction holds a thread lock and an ``flock``
on the lock file, works on the in-memory tables through a fresh ``TinyDB`` and, if anything
changed, writes new history segments first and then replaces the root file atomically. A
failed transaction drops the in-memory state, which is re-read from disk. Files that left the
root's segment list are deleted only after a grace period, for readers that may still use them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self, TypeVar, cast

from tinydb import Query
from tinydb.table import Document, Table

from triagebot.cases.facts import SlaFacts, sla_facts_of_doc
from triagebot.cases.records import ACTIVE_STATES, JSON, Case
from triagebot.errors import CaseNotFound, StoreError
from triagebot.store._atomic import (
    TMP_MARK,
    FileLock,
    dump_json,
    fsync_dir,
    read_fd,
    replace_file,
    write_new_file,
)
from triagebot.store._history import SEGMENT_PREFIX, History, HistoryTx, SegmentInfo
from triagebot.store._index import KEYS_FIELD, ActiveIndex, keys_of_doc, with_keys
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
    decode_root,
    open_db,
    root_meta,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_Signature = tuple[int, int, int, int]
ACTIVE = frozenset(s.value for s in ACTIVE_STATES)


def plain(data: _T) -> _T:
    """A JSON round trip: a private, plain copy that is known to serialise."""
    return cast(_T, json.loads(dump_json(data)))


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def find_doc(table: Table, key: str, value: str) -> Document | None:
    return table.get(Query()[key] == value)


class Tx:
    """One write transaction: the in-memory root (cases through ``ActiveIndex``, the other
    tables through a TinyDB) plus the history changes."""

    def __init__(self, root: Tables, meta: JSON, history: HistoryTx, index: ActiveIndex) -> None:
        self.storage = RootStorage(root)
        db = open_db(self.storage)
        #: The cases table through TinyDB, for whole-store migrations only: it changes
        #: documents in place, so it must not change a case's mention or links (the index).
        self.cases = db.table(CASES)
        self.outbox, self.cursors = db.table(OUTBOX), db.table(CURSORS)
        self.meta_table = db.table(META)
        self.places = db.table(PLACES)
        self.meta = dict(meta)
        self.meta_changed = False
        self.history = history
        self.index = index
        #: Ids of the cases that left the root in this transaction.
        self.dropped: set[str] = set()

    @property
    def dirty(self) -> bool:
        return self.storage.writes > 0 or self.meta_changed or self.history.changed

    @property
    def _cases(self) -> dict[str, JSON]:
        return self.storage.data.setdefault(CASES, {})

    def find(self, case_id: str) -> tuple[str | None, JSON]:
        """(slot in the root or None, current case document); raises ``CaseNotFound``."""
        slot = self.index.slots.get(case_id)
        if slot is not None:
            return slot, self._cases[slot]
        closed = self.history.get(case_id)
        if closed is None:
            raise CaseNotFound(f"no case {case_id}")
        return None, closed

    def insert(self, doc: JSON) -> None:
        """Put a new active case document into the root, with its cross-post keys."""
        self.storage.writes += 1  # before any change: a failure from here reloads the root
        keys = keys_of_doc(doc)
        slot = str(self.index.last_slot + 1)
        self._cases[slot] = with_keys(doc, keys)
        self.index.add(slot, doc, keys)
        self.dropped.discard(doc["id"])

    def replace(self, slot: str, doc: JSON) -> None:
        """Replace the root document in ``slot`` (the same case) by ``doc``."""
        self.storage.writes += 1
        old = self._cases[slot]
        keys = keys_of_doc(doc)
        self.index.remove(old)
        self._cases[slot] = with_keys(doc, keys)
        self.index.add(slot, doc, keys)

    def drop(self, slot: str) -> None:
        self.storage.writes += 1
        old = self._cases.pop(slot)
        self.index.remove(old)
        self.dropped.add(old["id"])

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


class Engine:
    """Root file, locks and transactions shared by the store's operations."""

    def __init__(
        self,
        path: Path | str,
        *,
        segment_capacity: int = 500,
        cache_segments: int = 4,
        gc_grace: float = 300.0,
    ) -> None:
        self.path = Path(path)
        name = self.path.name.removesuffix(".json") if self.path.suffix == ".json" else None
        self.history_dir = self.path.with_name(f"{name or self.path.name}.history")
        self.segment_capacity = segment_capacity
        self.gc_grace = gc_grace
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create ({exc.strerror})") from exc
        self._lock = threading.RLock()
        self._flock = FileLock(self.path.with_name(self.path.name + ".lock"))
        self._history = History(self.history_dir, cache_segments)
        self._root: Tables = {}
        self._meta: JSON = {}
        self._segments: list[SegmentInfo] = []
        self._sig: _Signature | None = None
        self._fd: int | None = None
        self._loaded = False
        self._closed = False
        self._last_scan = -math.inf
        #: Decoded active cases by case id, with the version they are of: repeated scans of
        #: the root (the SLA watcher's) decode only what changed.
        self._decoded: dict[str, tuple[int, Case]] = {}
        self._index = ActiveIndex()
        with self._lock:
            self._refresh()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- root file -----------------------------------------------------------------------
    def _refresh(self) -> None:
        """Reload the root if the file on disk is not the one in memory."""
        try:
            sig: _Signature | None = _signature(os.stat(self.path))
        except FileNotFoundError:
            sig = None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from exc
        if self._loaded and sig == self._sig:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._install({}, None, None)
            return
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from exc
        try:
            data = read_fd(fd)
            sig = _signature(os.fstat(fd))
            root = decode_root(data, self.path)
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from exc
        except BaseException:
            os.close(fd)
            raise
        log.debug("loaded %s (%d bytes)", self.path, len(data))
        self._install(root, sig, fd)

    def _install(
        self, root: Tables, sig: _Signature | None, fd: int | None, tx: Tx | None = None
    ) -> None:
        """Make ``root`` the current one: the file just read (indexes built afresh), or the one
        ``tx`` committed (its indexes kept up to date by the transaction)."""
        meta, segments = root_meta(root, self.path)
        if tx is None:
            try:
                index = ActiveIndex.build(root.get(CASES, {}))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                if fd is not None:
                    os.close(fd)
                raise StoreError(f"{self.path}: an active case is malformed ({exc!r})") from None
            dropped: Iterable[str] = [k for k in self._decoded if k not in index.slots]
        else:
            index, dropped = tx.index, tx.dropped
        self._meta, self._segments, self._index = meta, segments, index
        if self._fd is not None:
            os.close(self._fd)
        self._root, self._sig, self._fd, self._loaded = root, sig, fd, True
        self._history.sync(self._segments)
        for case_id in dropped:
            self._decoded.pop(case_id, None)

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
                tx = Tx(self._root, self._meta, history, self._index)
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

    def _commit(self, tx: Tx) -> None:
        """Write new segments, then the root (the commit point); then forget and clean up.

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
        tx.meta_table.upsert(Document(meta, doc_id=META_ID))
        fd = replace_file(self.path, dump_json(tx.storage.data))
        self._install(tx.storage.data, _signature(os.fstat(fd)), fd, tx)
        for name, segment in installs:
            self._history.install(name, segment)
        self._collect(due, now)

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

    def _doc(self, case_id: str) -> JSON | None:
        slot = self._index.slots.get(case_id)
        if slot is not None:
            return cast(JSON, self._root[CASES][slot])
        info = self._history.locate(case_id)
        return None if info is None else self._history.segment(info).get(case_id)

    def _case(self, doc: JSON) -> Case:
        try:
            return Case.from_dict(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self.path}: case {doc.get('id')!r} is malformed ({exc!r})"
            ) from None

    def _active_case(self, doc: JSON) -> Case:
        """``_case`` of a root document, decoded once per case version."""
        cached = self._decoded.get(doc["id"])
        if cached is not None and cached[0] == doc["version"]:
            return cached[1]
        case = self._case(doc)
        self._decoded[case.id] = (case.version, case)
        return case

    def _facts(self, doc: JSON) -> SlaFacts:
        try:
            return sla_facts_of_doc(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self.path}: case {doc.get('id')!r} is malformed ({exc!r})"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
