"""A PostgreSQL store that decodes many active cases at once keeps them out of the garbage
collector's full scans (a full collection over 50,000 cached cases paused a click ~0.5 s)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.store.builders import make_new
from tests.store.pg_helpers import needs_postgres, throwaway_schema
from triagebot.cases.records import ACTIVE_STATES
from triagebot.store._pg_active import FREEZE_AT

pytestmark = needs_postgres


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_large_read_freezes_the_cases_it_keeps(unfrozen: None) -> None:
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    with throwaway_schema() as (url, schema), PostgresStore(url, schema=schema) as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 11)])
        assert len(store.list_cases(states=ACTIVE_STATES)) == 10
        assert gc.get_freeze_count() == 0  # a small read: nothing frozen
        more = range(11, FREEZE_AT + 11)
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in more])
        listed = store.list_cases(states=ACTIVE_STATES)
        assert len(listed) == FREEZE_AT + 10
        assert gc.get_freeze_count() > 0
        assert len(store.list_cases(states=ACTIVE_STATES)) == FREEZE_AT + 10  # all cached
