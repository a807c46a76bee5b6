"""The root file of the TinyDB store: its tables, its meta document and their validation.

The root (``triagebot.json``) is a TinyDB file with four tables: ``cases`` (active cases, each
embedding its ``events`` list and ``refs`` by surface), ``outbox``, ``cursors`` and ``meta``
(one document: format version, id counters, the live history segments, the files waiting
for garbage collection and the journal that continues this snapshot). Since format 2 it is a
snapshot that the journal (``_journal``) brings up to date; since format 3 each active case is
a line of its own, kept in memory as its bytes (``_packed``). ``RootStorage`` lets a fresh
``TinyDB`` operate on the in-memory root and records which documents each table operation
touched (``TrackedTable``), so that a commit journals only those.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from triagebot.cases.records import JSON
from triagebot.errors import StoreError
from triagebot.store._atomic import parse_json
from triagebot.store._history import SegmentInfo
from triagebot.store._outbox import queued
from triagebot.store._packed import Stream, pack, read_cases

#: Version of the on-disk layout this code writes; newer files are refused. 2: the root is a
#: snapshot continued by a journal (an earlier version would not read the journal). 3: the
#: snapshot keeps each active case on a line of its own, its head before its document. 4: the
#: active case documents are compressed (``_squeeze``).
FORMAT = 4
SQUEEZED = 4

CASES, OUTBOX, CURSORS, META = "cases", "outbox", "cursors", "meta"
PLACES = "places"
META_ID = 1

Tables = dict[str, dict[str, Any]]


class RootStorage(Storage):
    """TinyDB storage over an in-memory root; ``write`` only records that it changed, and
    ``touched`` which documents (table -> document ids) may have changed."""

    def __init__(self, data: Tables) -> None:
        self.data = data
        self.writes = 0
        self.touched: dict[str, set[str]] = {}

    def read(self) -> Tables:
        return self.data

    def write(self, data: Tables) -> None:
        self.data = data
        self.writes += 1

    def touch(self, table: str, doc_id: str) -> None:
        self.touched.setdefault(table, set()).add(doc_id)


class _Tracking(dict[int, Any]):
    """The table dict a TinyDB operation works on, noting every document it reached."""

    def __init__(self, items: dict[int, Any], seen: set[str]) -> None:
        super().__init__(items)
        self.seen = seen

    def __getitem__(self, key: int) -> Any:
        self.seen.add(str(key))
        return super().__getitem__(key)

    def __setitem__(self, key: int, value: Any) -> None:
        self.seen.add(str(key))
        super().__setitem__(key, value)

    def __delitem__(self, key: int) -> None:
        self.seen.add(str(key))
        super().__delitem__(key)

    def pop(self, key: int, *default: Any) -> Any:
        self.seen.add(str(key))
        return super().pop(key, *default)

    def clear(self) -> None:
        self.seen.update(str(key) for key in self)
        super().clear()


class TrackedTable(Table):
    """A TinyDB table whose updates tell the ``RootStorage`` which documents they reached
    (TinyDB changes documents in place, so a diff would need a copy of the whole table)."""

    def _update_table(self, updater: Callable[[dict[int, Any]], None]) -> None:
        storage = self._storage
        assert isinstance(storage, RootStorage)
        tables = storage.read()
        seen: set[str] = set()
        table = _Tracking(
            {self.document_id_class(k): doc for k, doc in tables.get(self.name, {}).items()},
            seen,
        )
        updater(table)
        tables[self.name] = {str(doc_id): doc for doc_id, doc in table.items()}
        for doc_id in seen:
            storage.touch(self.name, doc_id)
        storage.write(tables)
        self.clear_cache()


class _TrackedDB(TinyDB):
    table_class = TrackedTable


def open_db(storage: RootStorage) -> TinyDB:
    """A fresh TinyDB (fresh query caches and id counters) over ``storage``."""
    return _TrackedDB(storage=lambda: storage)


def default_meta() -> JSON:
    return {
        "format": FORMAT,
        "next_case": 1,
        "next_segment": 1,
        "segments": [],
        "garbage": [],
        "journal": None,
    }


def read_root(stream: Stream, path: Path) -> Tables:
    """Parse and check a root file read from ``stream`` (empty means an empty store): a first
    line of tables, then the active cases (``_packed``; compressed since format 4, plain JSON
    in format 3); or, as format 2 wrote it,
    one JSON object of every table, whose case documents are packed here."""
    first = stream.readline()
    if not first or first.isspace():
        return {}
    root = parse_json(first, path)
    if not isinstance(root, dict):
        raise StoreError(f"{path}: not a triagebot store (expected a JSON object of tables)")
    for name, table in root.items():
        if not isinstance(table, dict) or not all(isinstance(d, dict) for d in table.values()):
            raise StoreError(f"{path}: table {name!r} is malformed (expected documents by id)")
    meta = root_meta(root, path)[0]
    try:
        cases = {slot: pack(slot, doc) for slot, doc in root.get(CASES, {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"{path}: an active case is malformed ({exc!r})") from None
    if OUTBOX in root:
        try:
            root[OUTBOX] = {slot: queued(doc) for slot, doc in root[OUTBOX].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"{path}: an outbox item is malformed ({exc!r})") from None
    if first.endswith(b"\n") and stream.peek(1)[:1]:
        cases |= read_cases(stream, path, plain=int(meta["format"]) < SQUEEZED)
    root[CASES] = cases
    return root


def decode_root(data: bytes, path: Path) -> Tables:
    """``read_root`` of a root file's bytes."""
    return read_root(io.BufferedReader(io.BytesIO(data)), path)


def root_meta(root: Tables, path: Path) -> tuple[JSON, list[SegmentInfo]]:
    """The meta document of a root (defaults filled in) and its live history segments."""
    meta = default_meta() | root.get(META, {}).get(str(META_ID), {})
    try:
        version = int(meta["format"])
        if version > FORMAT:
            raise StoreError(
                f"{path}: written by a newer triagebot (store format {version}, this version "
                f"reads up to {FORMAT}); upgrade triagebot"
            )
        int(meta["next_case"])
        int(meta["next_segment"])
        if meta["journal"] is not None:
            int(meta["journal"])
        segments = [SegmentInfo.from_dict(s) for s in meta["segments"]]
        for item in meta["garbage"]:
            str(item["file"])
            float(item["since"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"{path}: the meta document is malformed ({exc!r})") from None
    return meta, segments


def plain_tables(data: bytes, path: Path) -> Tables:
    """The tables of a root file's bytes with every case as its document (for inspection:
    ``decode_root`` keeps cases packed)."""
    root = decode_root(data, path)
    if CASES in root:
        root[CASES] = {slot: packed.doc(path) for slot, packed in root[CASES].items()}
    if OUTBOX in root:
        root[OUTBOX] = {slot: item.doc(path) for slot, item in root[OUTBOX].items()}
    return root
