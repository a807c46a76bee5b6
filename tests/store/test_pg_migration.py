"""PostgreSQL migrations: a store written at version 2 (no facts, no keys, no counts) or 6
(no first-response facts) migrates and answers as before."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.store.builders import T0, varied_case
from tests.store.pg_helpers import throwaway_schema
from triagebot.cases.facts import crosspost_keys, sla_facts
from triagebot.cases.records import ACTIVE_STATES, Case, CaseState, NewCase
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.period import summarize, summarize_facts

psycopg = pytest.importorskip("psycopg")
orjson = pytest.importorskip("orjson")

from triagebot.store import _pg_schema  # noqa: E402
from triagebot.store.postgres import PostgresStore  # noqa: E402

pytestmark = pytest.mark.postgres

CALENDARS = {
    "support": BusinessCalendar("America/New_York", "Mon-Fri 09:00-17:00", "US"),
    "billing": BusinessCalendar("UTC", "24/7"),
    "shipping": BusinessCalendar("Europe/Berlin", "Mon-Fri 08:00-12:00,13:00-17:30", "DE-BY"),
}
NOW = T0 + timedelta(days=13)


def _write_as_version_2(conn: Any, cases: list[Case]) -> None:
    """Rows as the store of schema version 2 wrote them: no facts, no keys."""
    for case in cases:
        conn.execute(
            "INSERT INTO cases (id, id_num, mention_id, state, department, ingested_at, version,"
            " doc) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
            (
                case.id,
                int(case.id),
                case.mention.id,
                case.state.value,
                case.department,
                case.ingested_at,
                case.version,
                orjson.dumps(case.to_dict()).decode(),
            ),
        )


def test_a_version_2_store_migrates_and_gives_the_same_summary() -> None:
    rng = random.Random(3)
    cases = [varied_case(rng, n) for n in range(1, 81)]
    with throwaway_schema(migrate=False) as (url, schema):
        options = f"-c search_path={schema}"
        with psycopg.connect(url, options=options) as conn:
            assert _pg_schema.migrate(conn, upto=2)
            with conn.transaction():
                _write_as_version_2(conn, cases)
        with PostgresStore(url, schema=schema, check_schema=False) as store:
            assert store.migrate() == [
                "applied migration 3: SLA facts and cross-post keys beside each case",
                "applied migration 4: link keys indexed without a pending list",
                "applied migration 5: events found by action and time",
                "applied migration 6: actors qualified by the surface that recorded them",
                "applied migration 7: first-response SLA facts beside each case",
                "applied migration 8: case counts by state, kept by the writes that change them",
            ]
        with PostgresStore(url, schema=schema) as store:
            listed = store.list_cases()
            assert store.active_count() == sum(c.state in ACTIVE_STATES for c in cases) > 0
            assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)
            from_facts = summarize_facts(store.sla_facts(), CALENDARS.__getitem__, NOW, T0, NOW)
            assert from_facts == summarize(listed, CALENDARS.__getitem__, NOW, T0, NOW)
            assert from_facts.total.count == len(cases)

            # Keys were not written by version 2: every active case is a candidate once,
            # and gets its keys written; afterwards only matching cases come back.
            active = [c for c in listed if c.state in ACTIVE_STATES]
            assert store.crosspost_candidates(set(), set(), T0) == active
            assert store.crosspost_candidates(set(), set(), T0) == []
            first = active[-1]
            found = store.crosspost_candidates(crosspost_keys(first).urls, set(), T0)
            assert found == [first]


def test_rows_written_by_an_older_version_after_the_migration_are_candidates() -> None:
    """An old process still running during a deploy writes no keys: its change is not lost."""
    rng = random.Random(4)
    with throwaway_schema() as (url, schema), PostgresStore(url, schema=schema) as store:
        case = replace(varied_case(rng, 1), state=CaseState.OPEN)
        store.add_cases([NewCase(case)])
        assert store.crosspost_candidates(set(), set(), T0) == []
        moved = replace(case, version=2, also_on=("https://example.org/seen",))
        with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
            conn.execute(
                "UPDATE cases SET version = 2, doc = %s::jsonb WHERE id = %s",
                (orjson.dumps(moved.to_dict()).decode(), case.id),
            )
        assert store.crosspost_candidates(set(), set(), T0) == [moved]
        found = store.crosspost_candidates({"https://example.org/seen"}, set(), T0)
        assert found == [moved]
        assert store.sla_facts() == [sla_facts(moved)]


def test_a_version_6_store_gets_the_first_response_facts_of_its_cases() -> None:
    """Rows written before migration 7 hold respond_due, first_response and waiting_since
    in their documents only: the migration fills the new columns from them."""
    rng = random.Random(6)
    cases = [varied_case(rng, n) for n in range(1, 61)]
    assert any(c.first_response for c in cases) and any(c.waiting_since for c in cases)
    with throwaway_schema(migrate=False) as (url, schema):
        options = f"-c search_path={schema}"
        with psycopg.connect(url, options=options) as conn:
            assert _pg_schema.migrate(conn, upto=6)
            with conn.transaction():
                _write_as_version_2(conn, cases)
        with PostgresStore(url, schema=schema, check_schema=False) as store:
            with pytest.raises(Exception, match="run `triagebot migrate`"):
                PostgresStore(url, schema=schema).close()
            assert store.migrate() == [
                "applied migration 7: first-response SLA facts beside each case",
                "applied migration 8: case counts by state, kept by the writes that change them",
            ]
        with PostgresStore(url, schema=schema) as store:
            assert sorted(store.sla_facts()) == sorted(sla_facts(c) for c in cases)
            from_facts = summarize_facts(store.sla_facts(), CALENDARS.__getitem__, NOW, T0, NOW)
            assert from_facts == summarize(store.list_cases(), CALENDARS.__getitem__, NOW, T0, NOW)
            assert from_facts.total.respond.n > 0
