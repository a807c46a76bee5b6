"""The files of an embedded store, read as a whole: the root after a compaction.

Since the root is a snapshot continued by a journal, a test that looks at (or edits, as an
earlier version would have written it) the root file first folds the journal into it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from triagebot.store._root import plain_tables
from triagebot.store.tinydb_store import TinyDBStore


def read_root(path: Path) -> dict[str, Any]:
    """The tables of the root file at ``path`` as documents (cases decoded)."""
    return plain_tables(path.read_bytes(), path)


def compacted_root(path: Path) -> dict[str, Any]:
    """The root file of the store at ``path`` after compacting it (no journal record left)."""
    with TinyDBStore(path) as store:
        assert store.compact()
    return read_root(path)


def replayed_cases(path: Path) -> dict[str, Any]:
    """The active case documents by slot, as a process opening the store reads them
    (snapshot and journal)."""
    with TinyDBStore(path) as store:
        return {slot: p.doc(path) for slot, p in store._root.get("cases", {}).items()}
