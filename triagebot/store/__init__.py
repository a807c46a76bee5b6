"""Case storage: the ``Store`` contract and ``open_store``, which picks the implementation.

Without a database URL the store is the embedded TinyDB store in a file (by default
``data/triagebot.json``, with closed cases under ``data/triagebot.history/``).
"""

from __future__ import annotations

from pathlib import Path

from triagebot.errors import StoreError
from triagebot.store.base import Store

__all__ = ["DEFAULT_DB_PATH", "Store", "open_store"]

#: Where the embedded store lives when no path is configured.
DEFAULT_DB_PATH = Path("data") / "triagebot.json"


def open_store(db_path: Path | None = None, database_url: str | None = None) -> Store:
    """Open the store: PostgreSQL if ``database_url`` is given, else TinyDB at ``db_path``."""
    if database_url:
        raise StoreError(
            "PostgreSQL support: install the 'postgres' extra (pip install 'triagebot[postgres]') "
            "with a triagebot version that supports database_url; this one only has the "
            "embedded store (leave database_url unset to use it)"
        )
    # Imported here so that the core, which imports this package, never loads tinydb.
    from triagebot.store.tinydb_store import TinyDBStore  # noqa: PLC0415

    return TinyDBStore(db_path if db_path is not None else DEFAULT_DB_PATH)
