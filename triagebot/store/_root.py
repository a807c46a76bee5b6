"""The root file of the TinyDB store: its tables, its meta document and their validation.

The root (``triagebot.json``) is a TinyDB file with four tables: ``cases`` (active cases, each
embedding its ``events`` list and ``refs`` by surface), ``outbox``, ``cursors`` and ``meta``
(one document: format version, id counters, the live history segments and the files waiting
for garbage collection). It is the commit point of every change. ``RootStorage`` lets a fresh
``TinyDB`` operate on the in-memory root; a write only marks it changed, the store writes the
file once, atomically, when the transaction commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from triagebot.cases.records import JSON
from triagebot.errors import StoreError
from triagebot.store._atomic import parse_json
from triagebot.store._history import SegmentInfo

#: Version of the on-disk layout this code writes; newer files are refused.
FORMAT = 1

CASES, OUTBOX, CURSORS, META = "cases", "outbox", "cursors", "meta"
PLACES = "places"
META_ID = 1

Tables = dict[str, dict[str, Any]]


class RootStorage(Storage):
    """TinyDB storage over an in-memory root; ``write`` only records that it changed."""

    def __init__(self, data: Tables) -> None:
        self.data = data
        self.writes = 0

    def read(self) -> Tables:
        return self.data

    def write(self, data: Tables) -> None:
        self.data = data
        self.writes += 1


def open_db(storage: RootStorage) -> TinyDB:
    """A fresh TinyDB (fresh query caches and id counters) over ``storage``."""
    return TinyDB(storage=lambda: storage)


def default_meta() -> JSON:
    return {
        "format": FORMAT,
        "next_case": 1,
        "next_segment": 1,
        "segments": [],
        "garbage": [],
    }


def decode_root(data: bytes, path: Path) -> Tables:
    """Parse and check the bytes of a root file (empty means an empty store)."""
    if not data.strip():
        return {}
    root = parse_json(data, path)
    if not isinstance(root, dict):
        raise StoreError(f"{path}: not a triagebot store (expected a JSON object of tables)")
    for name, table in root.items():
        if not isinstance(table, dict) or not all(isinstance(d, dict) for d in table.values()):
            raise StoreError(f"{path}: table {name!r} is malformed (expected documents by id)")
    root_meta(root, path)
    return root


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
        segments = [SegmentInfo.from_dict(s) for s in meta["segments"]]
        for item in meta["garbage"]:
            str(item["file"])
            float(item["since"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"{path}: the meta document is malformed ({exc!r})") from None
    return meta, segments
