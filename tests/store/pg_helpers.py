"""A throwaway PostgreSQL schema per test on TRIAGEBOT_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

URL_VARIABLE = "TRIAGEBOT_TEST_DATABASE_URL"
SKIP_REASON = (
    f"PostgreSQL tests need a database: set {URL_VARIABLE}=postgresql://USER@HOST:5432/DB "
    "(CI uses postgresql://postgres@127.0.0.1:5432/test)"
)


def database_url() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def require_database() -> str:
    url = database_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    return url


#: Marks a test that needs the database; the test itself calls ``require_database``.
needs_postgres = pytest.mark.postgres


@contextmanager
def throwaway_schema(migrate: bool = True) -> Iterator[tuple[str, str]]:
    """Create a fresh schema (migrated unless told otherwise); yield (url, schema); drop it."""
    import psycopg  # noqa: PLC0415

    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    url = require_database()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        if migrate:
            with PostgresStore(url, schema=schema, check_schema=False) as store:
                store.migrate()
        yield url, schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
