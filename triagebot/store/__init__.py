"""Case storage: the ``Store`` contract and ``open_store``, which picks the implementation.

With a database URL (Heroku's ``DATABASE_URL``) the store is PostgreSQL (``postgres``, needs
the ``postgres`` extra). Without one it is the embedded TinyDB store in a file (by default
``data/triagebot.json``, continued by its journal ``data/triagebot.journal-*``, with closed cases
under ``data/triagebot.history/``).
"""

from __future__ import annotations

from pathlib import Path

from triagebot.errors import StoreError
from triagebot.store.base import Store

__all__ = ["DEFAULT_DB_PATH", "Store", "open_store"]

#: Where the embedded store lives when no path is configured.
DEFAULT_DB_PATH = Path("data") / "triagebot.json"


def open_store(
    db_path: Path | None = None,
    database_url: str | None = None,
    *,
    dyno: str | None = None,
    migrating: bool = False,
) -> Store:
    """Open the store: PostgreSQL if ``database_url`` is given, else TinyDB at ``db_path``.

    ``dyno`` (Heroku's DYNO) makes PostgreSQL require TLS; ``migrating`` opens a PostgreSQL
    schema that is older than the code (only ``triagebot migrate`` does).
    """
    if database_url:
        try:
            # Imported here so that the core never loads psycopg unless PostgreSQL is used.
            from triagebot.store.postgres import PostgresStore  # noqa: PLC0415
        except ImportError as exc:
            raise StoreError(
                f"DATABASE_URL is set but PostgreSQL support is not installed ({exc.name} is "
                "missing): pip install 'triagebot[postgres]'"
            ) from None
        return PostgresStore(database_url, dyno=dyno, check_schema=not migrating)
    # Imported here so that the core, which imports this package, never loads tinydb.
    from triagebot.store.tinydb_store import TinyDBStore  # noqa: PLC0415

    store = TinyDBStore(db_path if db_path is not None else DEFAULT_DB_PATH)
    # An embedded store has no release phase: actors an earlier version stored are qualified
    # the first time this version opens it (one transaction under the file lock).
    store.qualify_actors_if_needed()
    return store
