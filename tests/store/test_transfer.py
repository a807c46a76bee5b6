"""``triagebot migrate-store``: a generated TinyDB history moved to PostgreSQL, nothing lost."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.store.builders import T0, make_event, make_new, make_ref, moved
from tests.store.pg_helpers import throwaway_schema
from triagebot.cases.records import CaseState
from triagebot.store.tinydb_store import TinyDBStore

pytest.importorskip("psycopg")

from triagebot.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

CASES = 240


def generate(path: Path) -> list[str]:
    """A history: cases in every state (most closed, in segments), events, refs, cursors."""
    rng = random.Random(7)
    with TinyDBStore(path, segment_capacity=25) as store:
        ids = store.next_case_ids(CASES)
        store.add_cases(
            [make_new(i, ingested_at=T0 + timedelta(minutes=n)) for n, i in enumerate(ids)]
        )
        for case_id in ids:
            case = store.get_case(case_id)
            store.set_message_ref(case_id, make_ref("slack", f"1.{case_id}"))
            if rng.random() < 0.3:
                store.set_message_ref(case_id, make_ref("teams", f"t-{case_id}"))
            for state in rng.choice(
                [[], [CaseState.CLAIMED], [CaseState.CLAIMED, CaseState.RESOLVED], [CaseState.SPAM]]
            ):
                nxt = moved(case, state)
                store.save_case(nxt, case.version, [make_event(nxt, state.value)])
                case = nxt
        for item in store.lease_outbox(T0 + timedelta(days=1), 100, timedelta(minutes=1)):
            store.complete_outbox(item.id)
        store.set_cursor("x", "1234567890")
        store.set_cursor("rss", "etag-\u00e9")
        store.remember_place("teams", "19:ship", {"name": "Shipping", "reference": {"a": [1]}})
        store.next_case_ids(5)  # reserved, never used
    return ids


def test_migrate_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    ids = generate(path)
    with throwaway_schema() as (url, schema):
        target = f"{url}?options=-csearch_path%3D{schema}"
        done = run_cli(["migrate-store", "--from", str(path), "--to", target], tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"copied and verified: {CASES} cases" in done.stdout
        with TinyDBStore(path) as src, PostgresStore(url, schema=schema) as dst:
            assert dst.list_cases() == src.list_cases()
            for case_id in ids:
                assert dst.events(case_id) == src.events(case_id)
                assert dst.message_refs(case_id) == src.message_refs(case_id)
            assert dst.get_cursor("x") == "1234567890"
            assert dst.get_cursor("rss") == "etag-\u00e9"
            assert dst.places("teams") == src.places("teams") != {}
            assert dst.pending_outbox() == src.pending_outbox() > 0
            leased = dst.lease_outbox(T0 + timedelta(days=30), 1000, timedelta(minutes=1))
            expected = src.lease_outbox(T0 + timedelta(days=30), 1000, timedelta(minutes=1))
            assert [i.id for i in leased] == [i.id for i in expected]
            assert int(dst.next_case_ids(1)[0]) > CASES + 5
        again = run_cli(["migrate-store", "--from", str(path), "--to", target], tmp_path)
        assert again.returncode == 1
        assert "already holds cases" in again.stderr


def test_migrate_store_needs_a_source_and_a_target(tmp_path: Path) -> None:
    missing = run_cli(["migrate-store", "--from", str(tmp_path / "none.json")], tmp_path)
    assert missing.returncode == 2 and "no such store file" in missing.stderr
    path = tmp_path / "data" / "triagebot.json"
    path.parent.mkdir()
    path.write_text("{}")
    no_url = run_cli(["migrate-store", "--from", str(path)], tmp_path)
    assert no_url.returncode == 2 and "DATABASE_URL" in no_url.stderr
