"""Store fixtures: every contract test runs once per available store implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from tests.store.pg_helpers import throwaway_schema
from triagebot.store.base import Store
from triagebot.store.tinydb_store import TinyDBStore

#: Opens a new connection to the same underlying data on every call.
Opener = Callable[[], Store]


@contextmanager
def _tinydb(tmp_path: Path) -> Iterator[Opener]:
    path = tmp_path / "data" / "triagebot.json"
    yield lambda: TinyDBStore(path, segment_capacity=4)


@contextmanager
def _postgres(tmp_path: Path) -> Iterator[Opener]:
    """A throwaway schema on TRIAGEBOT_TEST_DATABASE_URL (skipped when it is unset)."""
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    with throwaway_schema() as (url, schema):
        yield lambda: PostgresStore(url, schema=schema, pool_size=4)


#: Store implementations under test: name -> context manager giving an opener for a fresh,
#: empty store.
BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Opener]]] = {
    "tinydb": _tinydb,
    "postgres": _postgres,
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.postgres] if name == "postgres" else [])
        for name in BACKENDS
    ]
)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opener of a fresh store of each implementation; all opened stores are closed after."""
    opened: list[Store] = []
    with BACKENDS[request.param](tmp_path) as opener:

        def _open() -> Store:
            store = opener()
            opened.append(store)
            return store

        yield _open
        for store in opened:
            store.close()


@pytest.fixture
def store(open_store: Opener) -> Store:
    return open_store()
