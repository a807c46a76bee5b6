"""PostgreSQL specifics: migrations, URLs, several processes on one database, leadership."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from tests.store import _pg_workers
from tests.store.builders import make_new
from tests.store.pg_helpers import require_database, throwaway_schema
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.records import CaseState
from triagebot.errors import StoreError

psycopg = pytest.importorskip("psycopg")

from triagebot.store import _pg_schema, open_store  # noqa: E402
from triagebot.store.postgres import PostgresStore  # noqa: E402

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


# --- URLs -----------------------------------------------------------------------------------
def test_heroku_url_is_accepted_and_tls_required_on_a_dyno() -> None:
    url = "postgres://u:secret@db.example.com:5432/d1"
    plain = psycopg.conninfo.conninfo_to_dict(_pg_schema.connection_kwargs(url))
    assert (plain["host"], plain["dbname"], plain["user"]) == ("db.example.com", "d1", "u")
    assert "sslmode" not in plain
    dyno = psycopg.conninfo.conninfo_to_dict(_pg_schema.connection_kwargs(url, dyno="web.1"))
    assert dyno["sslmode"] == "require"
    chosen = _pg_schema.connection_kwargs(url + "?sslmode=verify-full", dyno="web.1")
    assert psycopg.conninfo.conninfo_to_dict(chosen)["sslmode"] == "verify-full"


def test_postgres_scheme_opens_the_store() -> None:
    with throwaway_schema() as (url, schema):
        heroku_style = url.replace("postgresql://", "postgres://", 1)
        with PostgresStore(heroku_style, schema=schema) as store:
            store.add_cases([make_new("1")])
            assert store.get_case("1").id == "1"


def test_connection_errors_never_show_the_password() -> None:
    require_database()
    with pytest.raises(StoreError, match="cannot connect") as caught:
        open_store(None, "postgres://someone:hunter2@127.0.0.1:1/nothing")
    assert "hunter2" not in str(caught.value)


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="DATABASE_URL"):
        _pg_schema.connection_kwargs("postgres://host:notaport/x?bogus_option=1")


# --- migrations -----------------------------------------------------------------------------
def test_store_refuses_an_unmigrated_schema_and_migrate_is_idempotent() -> None:
    with throwaway_schema(migrate=False) as (url, schema):
        with pytest.raises(StoreError, match="triagebot migrate"):
            PostgresStore(url, schema=schema)
        with PostgresStore(url, schema=schema, check_schema=False) as store:
            done = store.migrate()
            assert done == [f"applied migration {n}: {d}" for n, d, _ in _pg_schema.MIGRATIONS]
            assert store.migrate() == []
        with PostgresStore(url, schema=schema) as store:
            assert store.migrate() == []
            assert store.list_cases() == []


def test_concurrent_migrations_apply_once() -> None:
    with throwaway_schema(migrate=False) as (url, schema):
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(3) as pool:
            results = pool.starmap(_migrate, [(url, schema)] * 3)
        assert sorted(len(r) for r in results) == [0, 0, len(_pg_schema.MIGRATIONS)]


def _migrate(url: str, schema: str) -> list[str]:
    with PostgresStore(url, schema=schema, check_schema=False) as store:
        return store.migrate()


def test_a_newer_schema_is_refused() -> None:
    with throwaway_schema() as (url, schema), psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {schema}.schema_migrations (version, description) VALUES (999, 'x')"
        )
        with pytest.raises(StoreError, match="upgrade triagebot"):
            PostgresStore(url, schema=schema)


def test_events_are_append_only() -> None:
    with throwaway_schema() as (url, schema):
        with PostgresStore(url, schema=schema) as store:
            store.add_cases([make_new("1")])
        with psycopg.connect(url, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(f"DELETE FROM {schema}.events")
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(f"UPDATE {schema}.events SET doc = '{{}}'")


def test_text_with_nul_is_stored() -> None:
    with throwaway_schema() as (url, schema), PostgresStore(url, schema=schema) as store:
        new = make_new("1", text="before\x00after")
        assert store.add_cases([new]) == [True]
        assert store.get_case("1").mention.text == "before\ufffdafter"


# --- several processes ----------------------------------------------------------------------
@pytest.mark.slow
def test_twenty_concurrent_claims_have_one_winner() -> None:
    rounds, processes, threads = 5, 4, 5
    with throwaway_schema() as (url, schema):
        with PostgresStore(url, schema=schema) as store:
            store.add_cases([make_new(str(n)) for n in range(1, rounds + 1)])
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(processes * threads, timeout=TIMEOUT)
        results = ctx.Queue()
        case_ids = [str(n) for n in range(1, rounds + 1)]
        procs = [
            ctx.Process(
                target=_pg_workers.claimers,
                args=((url, schema), [f"p{p}t{t}" for t in range(threads)], barrier, case_ids),
                kwargs={"results": results},
            )
            for p in range(processes)
        ]
        for proc in procs:
            proc.start()
        outcome = [results.get(timeout=TIMEOUT) for _ in range(rounds * processes * threads)]
        for proc in procs:
            proc.join(TIMEOUT)
        assert all(proc.exitcode == 0 for proc in procs)
        wins = Counter(case_id for case_id, _, result in outcome if result == "won")
        assert wins == Counter(case_ids)
        winners = {case_id: name for case_id, name, result in outcome if result == "won"}
        with PostgresStore(url, schema=schema) as store:
            for case_id, name in winners.items():
                case = store.get_case(case_id)
                who = Identity("cli", name)
                assert (case.state, case.claimed_by, case.version) == (CaseState.CLAIMED, who, 2)
                assert [e.actor for e in store.events(case_id)] == [SYSTEM, who]
            assert store.pending_outbox() == 2 * rounds


def test_outbox_leases_never_overlap_between_connections() -> None:
    with throwaway_schema() as (url, schema):
        stores = [PostgresStore(url, schema=schema) for _ in range(3)]
        try:
            stores[0].add_cases([make_new(str(n)) for n in range(1, 31)])
            now = make_new("1").case.ingested_at
            taken = [i.id for s in stores for i in s.lease_outbox(now, 12, timedelta(minutes=1))]
            assert len(taken) == len(set(taken)) == 30
        finally:
            for store in stores:
                store.close()


# --- leadership -----------------------------------------------------------------------------
def test_only_one_leader_and_release_hands_over() -> None:
    with throwaway_schema() as (url, schema):
        stores = [PostgresStore(url, schema=schema) for _ in range(3)]
        locks = [s.leadership() for s in stores]
        try:
            assert [lock.check() for lock in locks] == [True, False, False]
            assert [lock.check() for lock in locks] == [True, False, False]
            locks[0].release()
            assert [lock.check() for lock in locks[1:]] == [True, False]
        finally:
            for lock in locks:
                lock.release()
            for store in stores:
                store.close()


def test_leader_whose_connection_dies_loses_and_a_follower_takes_over() -> None:
    with throwaway_schema() as (url, schema):
        one, two = PostgresStore(url, schema=schema), PostgresStore(url, schema=schema)
        first, second = one.leadership(), two.leadership()
        try:
            assert first.check() and not second.check()
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first.backend_pid(),))
            assert second.check()
            assert not first.check()  # notices the broken session, reconnects, stays follower
        finally:
            first.release()
            second.release()
            one.close()
            two.close()


@pytest.mark.slow
def test_killed_leader_process_is_replaced() -> None:
    with throwaway_schema() as (url, schema):
        procs = [_leader_process(url, schema) for _ in range(2)]
        try:
            states = [_read_state(p) for p in procs]
            assert sorted(states) == ["follower", "leader"]
            leader = procs[states.index("leader")]
            follower = procs[states.index("follower")]
            leader.kill()
            started = time.monotonic()
            assert _read_state(follower) == "leader"
            assert time.monotonic() - started < 5
        finally:
            for proc in procs:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)


def _leader_process(url: str, schema: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store._pg_workers", url, schema],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _read_state(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().split()[0]


def test_a_store_without_a_database_is_refused_fast() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError):
        PostgresStore("postgresql://127.0.0.1:1/none")
    assert time.monotonic() - started < 10


def test_known_mentions_answers_for_a_batch() -> None:
    with throwaway_schema() as (url, schema), PostgresStore(url, schema=schema) as store:
        store.add_cases([make_new("1", mention_id="x:a"), make_new("2", mention_id="x:b")])
        assert store.known_mentions(["x:a", "x:c", "x:b"]) == {"x:a", "x:b"}
        assert store.known_mentions([]) == set()
