"""A PostgreSQL store keeps the active cases it lists as their documents' text: nothing the
garbage collector walks (a full collection over 50,000 cached decoded cases paused a click
~0.5 s), and listed cases decode when first read."""

from __future__ import annotations

import gc

from tests.store.builders import make_new
from tests.store.pg_helpers import needs_postgres, throwaway_schema
from triagebot.cases.records import ACTIVE_STATES, Case
from triagebot.store._lazy import LazyCase

pytestmark = needs_postgres

CASES = 1_000


def test_the_cases_kept_between_reads_are_not_walked_by_the_collector() -> None:
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    with throwaway_schema() as (url, schema), PostgresStore(url, schema=schema) as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, CASES + 1)])
        gc.collect()
        before = len(gc.get_objects())
        listed = store.list_cases(states=ACTIVE_STATES)
        assert len(listed) == CASES and all(isinstance(c, LazyCase) for c in listed)
        assert listed[0] == store.get_case(listed[0].id)  # decoded on first read
        del listed
        gc.collect()
        assert len(gc.get_objects()) - before < CASES // 10  # the cache holds texts only
        again = store.list_cases(states=ACTIVE_STATES)
        assert {c.id for c in again} == {str(n) for n in range(1, CASES + 1)}
        assert all(type(store.get_case(c.id)) is Case for c in again[:3])
