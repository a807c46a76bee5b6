"""Two threads listing active cases of the PostgreSQL store at once: a short list that prunes
the kept cases must not break a long list in flight (it raised KeyError in serve's health
counts and SLA watcher during the viral-day benchmark)."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from tests.store.builders import make_new, moved
from tests.store.pg_helpers import needs_postgres, throwaway_schema
from triagebot.cases.records import ACTIVE_STATES, CaseState

psycopg = pytest.importorskip("psycopg")

from triagebot.store import _pg_facts  # noqa: E402
from triagebot.store._pg_active import ActiveCases  # noqa: E402
from triagebot.store.postgres import PostgresStore  # noqa: E402

pytestmark = needs_postgres
ACTIVE = sorted(s.value for s in ACTIVE_STATES)


class PausedFetch:
    """A real connection whose fetch of documents waits until ``go`` is set."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.waiting, self.go = conn, threading.Event(), threading.Event()

    def execute(self, query: str, *args: Any) -> Any:
        if "doc::text" in query:
            self.waiting.set()
            assert self.go.wait(10)
        return self.conn.execute(query, *args)


def test_a_pruning_read_does_not_break_a_read_in_flight() -> None:
    with throwaway_schema() as (url, schema), PostgresStore(url, schema=schema) as store:
        store.add_cases([make_new(str(n)) for n in range(1, 1_101)])
        store.add_cases([make_new("2000", department="billing")])
        everyone = _pg_facts.case_filter(ACTIVE, None, None, None)
        billing = _pg_facts.case_filter(ACTIVE, "billing", None, None)
        active = ActiveCases()
        conninfo = f"{url}?options=-csearch_path%3D{schema}"
        with psycopg.connect(conninfo) as first, psycopg.connect(conninfo) as second:
            assert len(active.read(first, *everyone)) == 1_101  # all of them kept
            first.commit()
            case = store.get_case("7")
            store.save_case(moved(case, CaseState.CLAIMED), case.version)
            paused = PausedFetch(first)
            found: list[Any] = []
            conn = cast(Any, paused)  # the real connection, its document fetch held back
            reader = threading.Thread(target=lambda: found.append(active.read(conn, *everyone)))
            reader.start()
            assert paused.waiting.wait(10)  # the long read fetches case 7's new version ...
            assert [c.id for c in active.read(second, *billing)] == ["2000"]  # ... this prunes
            paused.go.set()
            reader.join(10)
        assert len(found) == 1 and len(found[0]) == 1_101
        assert {c.id: c.state for c in found[0]}["7"] is CaseState.CLAIMED
