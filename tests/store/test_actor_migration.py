"""Stores written before actors were qualified: both stores qualify them by the surface that
recorded them, once, and the lifecycle then tells a Slack user from a Teams look-alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.store.builders import T0, make_case
from tests.store.pg_helpers import needs_postgres, throwaway_schema
from triagebot.actions.executor import execute
from triagebot.cases.facts import sla_facts
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.lifecycle import LifecyclePolicy, Resolve
from triagebot.cases.records import CaseState
from triagebot.config.people import People
from triagebot.errors import NotAllowed
from triagebot.store import open_store
from triagebot.store.base import Store
from triagebot.store.tinydb_store import TinyDBStore

JSON = dict[str, Any]


def _event(case_id: str, n: int, action: str, actor: str, surface: str, *, claimed: Any) -> JSON:
    """An event document as an earlier version wrote it: a bare actor."""
    return {
        "case_id": case_id, "action": action, "actor": actor, "surface": surface,
        "at": (T0 + timedelta(minutes=n)).isoformat(), "version": n + 1,
        "before": {}, "after": {"claimed_by": claimed}, "note": None,
    }  # fmt: skip


def old_cases() -> list[tuple[JSON, list[JSON]]]:
    """(case document, its events) as an earlier version stored them."""
    made = []

    def case(case_id: str, state: CaseState, claimed: str | None, resolved: str | None) -> JSON:
        doc = replace(make_case(case_id, state=state), first_claimed_at=T0).to_dict()
        doc.update(claimed_by=claimed, resolved_by=resolved, resolved_at=None)
        if state.is_closed:
            doc["resolved_at"] = (T0 + timedelta(minutes=9)).isoformat()
        return doc

    ingest = _event("", 0, "ingest", "triagebot", "pipeline", claimed=None)
    slack = case("1", CaseState.CLAIMED, "U0ANA", None)
    claim = _event("1", 1, "claim", "U0ANA", "slack", claimed="U0ANA")
    made.append((slack, [ingest | {"case_id": "1"}, claim]))
    # One bare name on two surfaces: claimed with --by ana, resolved on the board as ana.
    both = case("2", CaseState.RESOLVED, "ana", "ana")
    made.append((both, [ingest | {"case_id": "2"},
                        _event("2", 1, "claim", "ana", "cli", claimed="ana"),
                        _event("2", 2, "resolve", "ana", "board", claimed="ana")]))  # fmt: skip
    spam = case("3", CaseState.SPAM, None, "triagebot")
    made.append((spam, [ingest | {"case_id": "3"}]))
    # Nothing vouches for these: no event names the holder, or a surface that vouches for none.
    ghost = case("4", CaseState.CLAIMED, "ghost", None)
    made.append((ghost, [ingest | {"case_id": "4"}]))
    demo = case("5", CaseState.CLAIMED, "ben", None)
    claim = _event("5", 1, "claim", "ben", "demo", claimed="ben")
    made.append((demo, [ingest | {"case_id": "5"}, claim]))
    teams = case("6", CaseState.CLAIMED, "29:alex", None)
    claim = _event("6", 1, "claim", "29:alex", "teams", claimed="29:alex")
    made.append((teams, [ingest | {"case_id": "6"}, claim]))
    return made


EXPECTED = {
    "1": (Identity("slack", "U0ANA"), None),
    "2": (Identity("cli", "ana"), Identity("board", "ana")),
    "3": (None, SYSTEM),
    "4": (Identity("legacy", "ghost"), None),
    "5": (Identity("legacy", "ben"), None),
    "6": (Identity("teams", "29:alex"), None),
}


class _Policy:
    """Nobody is a manager; identities are one person only when equal."""

    reopen_within = timedelta(days=7)
    _people = People()

    def is_manager(self, actor: Identity) -> bool:
        return False

    def same_person(self, one: Identity, other: Identity) -> bool:
        return one == other

    def name_of(self, actor: Identity) -> str:
        return self._people.name_of(actor)

    def department_exists(self, department: str) -> bool:
        return True

    def due_times(self, priority: Any, department: str, start: Any) -> Any:
        return start, start

    def respond_due(self, priority: Any, department: str, start: Any) -> Any:
        return start


def check_migrated(store: Store) -> None:
    for case_id, (claimed, resolved) in EXPECTED.items():
        case = store.get_case(case_id)
        assert (case.claimed_by, case.resolved_by) == (claimed, resolved), case_id
    actors = [(e.actor, e.surface) for e in store.events("2")]
    assert actors == [(SYSTEM, "pipeline"), (Identity("cli", "ana"), "cli"),
                      (Identity("board", "ana"), "board")]  # fmt: skip
    facts = {f.id: f.person for f in store.sla_facts()}
    assert facts["1"] == "slack:U0ANA" and facts["2"] == "cli:ana" and facts["4"] == "legacy:ghost"
    assert facts == {c.id: sla_facts(c).person for c in store.list_cases()}
    # The Slack claimer's case: a Teams user with the same id is refused, the claimer is not.
    policy: LifecyclePolicy = _Policy()
    look_alike = Resolve("1", Identity("teams", "U0ANA"), "teams")
    with pytest.raises(NotAllowed, match="claimed by U0ANA"):
        execute(store, policy, look_alike, T0 + timedelta(hours=1))
    done = execute(store, policy, Resolve("1", Identity("slack", "U0ANA"), "slack"),
                   T0 + timedelta(hours=1))  # fmt: skip
    assert done.case.state is CaseState.RESOLVED


# --- TinyDB ----------------------------------------------------------------------------------
def write_old_tinydb(path: Path) -> None:
    """Cases as an earlier version left them: active ones in the root, closed in history."""
    with TinyDBStore(path, segment_capacity=2) as store, store._transaction() as tx:
        for doc, events in old_cases():
            full = doc | {"events": events, "refs": {}}
            if doc["state"] in ("resolved", "spam"):
                tx.history.put(full, new=True)
            else:
                tx.insert(full)


def test_the_embedded_store_qualifies_older_actors_when_first_opened(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    write_old_tinydb(path)
    with TinyDBStore(path) as untouched:  # not through open_store: nothing is rewritten
        assert untouched.get_case("1").claimed_by == Identity("legacy", "U0ANA")
        assert untouched.events("1")[-1].actor == Identity("slack", "U0ANA")  # read by surface
    store = open_store(path)
    try:
        check_migrated(store)
        assert store.migrate() == []  # once only
    finally:
        store.close()


def test_triagebot_migrate_qualifies_the_embedded_store(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    write_old_tinydb(path)
    with TinyDBStore(path) as store:
        assert store.migrate() == ["qualified the actors of 6 cases by their surfaces"]
        assert store.migrate() == []
        check_migrated(store)


# --- PostgreSQL ----------------------------------------------------------------------------
@contextmanager
def old_postgres() -> Iterator[tuple[str, str]]:
    """A PostgreSQL schema at version 5 holding the cases and events as version 5 wrote them."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg.types.json import Jsonb  # noqa: PLC0415

    from triagebot.store import _pg_schema  # noqa: PLC0415

    with throwaway_schema(migrate=False) as (url, schema):
        with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
            _pg_schema.migrate(conn, upto=5)
            with conn.transaction():
                for doc, events in old_cases():
                    conn.execute(
                        "INSERT INTO cases (id, id_num, mention_id, state, department,"
                        " ingested_at, version, doc) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        (doc["id"], int(doc["id"]), doc["mention"]["id"], doc["state"],
                         doc["department"], doc["ingested_at"], doc["version"], Jsonb(doc)),
                    )  # fmt: skip
                    for event in events:
                        conn.execute(
                            "INSERT INTO events (case_id, doc) VALUES (%s, %s)",
                            (doc["id"], Jsonb(event)),
                        )
        yield url, schema


@needs_postgres
def test_postgres_migration_6_qualifies_older_actors() -> None:
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415

    with old_postgres() as (url, schema):
        with PostgresStore(url, schema=schema, check_schema=False) as store:
            assert store.migrate()[0] == (
                "applied migration 6: actors qualified by the surface that recorded them"
            )
            assert store.migrate() == []
        with PostgresStore(url, schema=schema) as store:
            check_migrated(store)
            events = [e.actor for e in store.events("6")]
            assert events == [SYSTEM, Identity("teams", "29:alex")]
