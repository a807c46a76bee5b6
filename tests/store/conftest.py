"""Store fixtures: every contract test runs once per available store implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from triagebot.store.base import Store
from triagebot.store.tinydb_store import TinyDBStore

#: Opens a new connection to the same underlying data on every call.
Opener = Callable[[], Store]


@contextmanager
def _tinydb(tmp_path: Path) -> Iterator[Opener]:
    path = tmp_path / "data" / "triagebot.json"
    yield lambda: TinyDBStore(path, segment_capacity=4)


#: Store implementations under test: name -> context manager giving an opener for a fresh,
#: empty store. A PostgreSQL entry belongs here: a context manager that creates a throwaway
#: schema on TRIAGEBOT_TEST_DATABASE_URL, yields an opener and drops the schema afterwards
#: (its param marked ``pytest.mark.postgres`` and skipped when the variable is unset).
BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Opener]]] = {
    "tinydb": _tinydb,
}


@pytest.fixture(params=list(BACKENDS))
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
