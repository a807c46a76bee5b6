"""The PostgreSQL store: psycopg 3 with a connection pool, shared by any number of processes.

A case is one row: its JSON document (``jsonb``) plus the indexed columns ``list_cases``
filters on (state, department, ingested_at) and ``version``. A trigger derives the case's SLA
facts (``triagebot.cases.facts``) from the document on every write, so ``sla_facts`` reads
narrow columns only; the cross-post keys (canonical links, author key) are written with the
case and carry the version they were computed for. Every state change is one
conditional ``UPDATE … WHERE id = … AND version = …`` (no row: ``VersionConflict``), written
with its events and outbox items in one transaction. Dedupe is the unique key on
``mention_id``; events are append-only (a trigger refuses updates and deletes); outbox items
are leased with ``SELECT … FOR UPDATE SKIP LOCKED``. The schema comes from ``_pg_schema``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from triagebot.cases.facts import SlaFacts, crosspost_keys
from triagebot.cases.records import (
    ACTIVE_STATES,
    JSON,
    Case,
    CaseEvent,
    CaseState,
    MessageRef,
    NewCase,
    OutboxItem,
)
from triagebot.cases.time_fields import iso, utc
from triagebot.errors import CaseNotFound, StoreError, VersionConflict
from triagebot.store import _pg_events, _pg_facts, _pg_schema
from triagebot.store._pg_active import ActiveCases
from triagebot.store._pg_leader import PgLeadership
from triagebot.store.base import CaseChange, check_next_version

log = logging.getLogger(__name__)

_NEVER = "-infinity"  # next_attempt_at of an item due at once


def _dumps(value: Any) -> str:
    """JSON text for a jsonb column; NUL (which jsonb cannot hold) becomes U+FFFD."""
    return orjson.dumps(value).decode().replace("\\u0000", "\\ufffd")


def _id_num(case_id: str) -> int | None:
    return int(case_id) if case_id.isdecimal() and len(case_id) < 19 else None


_ACTIVE = {s.value for s in ACTIVE_STATES}
#: Rows of ``case_counts`` (migration 8) past which ``active_count`` folds them into one a state.
FOLD_COUNTS_AT = 256


def _case_row(case: Case) -> tuple[Any, ...]:
    doc = case.to_dict()
    keys = crosspost_keys(case)
    return (
        case.id,
        _id_num(case.id),
        case.mention.id,
        case.state.value,
        case.department,
        utc(case.ingested_at),
        case.version,
        doc,
        sorted(keys.urls),
        keys.author,
    )


def _outbox_row(item: OutboxItem) -> JSON:
    doc = item.to_dict()
    return {"id": item.id, "case_id": item.case_id, "doc": doc}


class PostgresStore:
    """The ``Store`` in the PostgreSQL database at ``url`` (``postgres://`` or a conninfo).

    ``dyno`` (Heroku's DYNO) turns on ``sslmode=require`` unless the URL sets a mode;
    ``schema`` selects a schema through the search path; ``pool_size`` bounds the pool.
    The schema must be migrated (``triagebot migrate``), else ``StoreError``.
    """

    def __init__(
        self,
        url: str,
        *,
        dyno: str | None = None,
        schema: str | None = None,
        pool_size: int = 8,
        connect_timeout: float = 15.0,
        check_schema: bool = True,
    ) -> None:
        self._conninfo = _pg_schema.connection_kwargs(url, dyno=dyno, schema=schema)
        try:
            with psycopg.connect(self._conninfo, connect_timeout=int(connect_timeout)) as conn:
                if check_schema:
                    _pg_schema.check_schema(conn)
        except psycopg.OperationalError as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines()) or "no reason given"
            raise StoreError(f"cannot connect to PostgreSQL (DATABASE_URL): {reason}") from None
        self._active = ActiveCases()
        self._pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},  # one statement, one round trip; else ``_tx``
            configure=self._configure,
            check=ConnectionPool.check_connection,
            open=False,
            name="triagebot",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(
                "cannot connect to PostgreSQL (DATABASE_URL) within "
                f"{connect_timeout:g} s: is the server up and the URL right?"
            ) from None

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        set_json_loads(orjson.loads, conn)

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside one transaction (committed on success)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except PoolTimeout:
            raise StoreError(
                "no PostgreSQL connection available (pool exhausted or server down)"
            ) from None

    def _one(self, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of one statement, run on its own (no BEGIN and COMMIT round trips)."""
        try:
            with self._pool.connection() as conn:
                return conn.execute(query, params).fetchone()
        except PoolTimeout:
            raise StoreError(
                "no PostgreSQL connection available (pool exhausted or server down)"
            ) from None

    # --- cases ---------------------------------------------------------------------------
    def next_case_ids(self, count: int) -> list[str]:
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return []
        row = self._one(
            "UPDATE counters SET value = value + %s WHERE name = 'next_case' RETURNING value",
            (count,),
        )
        assert row is not None
        end = int(row[0])
        return [str(n) for n in range(end - count, end)]

    def add_cases(self, new: Sequence[NewCase]) -> list[bool]:
        """Insert the cases with ``ON CONFLICT (mention_id) DO NOTHING``, in one transaction."""
        if not new:
            return []
        first: dict[str, int] = {}
        for n, nc in enumerate(new):
            first.setdefault(nc.case.mention.id, n)
        keep = [new[n] for n in sorted(first.values())]
        cases = _dumps([_case_row(nc.case) for nc in keep])  # fails before touching the db
        top = max((num for nc in keep if (num := _id_num(nc.case.id)) is not None), default=0)
        with self._tx() as conn:
            conn.execute(
                "UPDATE counters SET value = %s WHERE name = 'next_case' AND value <= %s",
                (top + 1, top),
            )
            try:
                rows = conn.execute(
                    "INSERT INTO cases (id, id_num, mention_id, state, department, ingested_at,"
                    " version, doc, url_keys, author_key, keys_version)"
                    " SELECT r->>0, (r->>1)::bigint, r->>2, r->>3, r->>4,"
                    " (r->>5)::timestamptz, (r->>6)::int, r->7,"
                    " ARRAY(SELECT jsonb_array_elements_text(r->8)), r->>9, (r->>6)::int"
                    " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(r, n) ORDER BY n"
                    " ON CONFLICT (mention_id) DO NOTHING RETURNING id",
                    (cases,),
                ).fetchall()
            except psycopg.errors.UniqueViolation as exc:
                raise ValueError(f"a case id of this batch is already stored: {exc}") from None
            added = {r[0] for r in rows}
            stored = [nc for nc in keep if nc.case.id in added]
            self._append(conn, [e for nc in stored for e in nc.events])
            self._enqueue(conn, [i for nc in stored for i in nc.outbox])
        return [n == first[nc.case.mention.id] and nc.case.id in added for n, nc in enumerate(new)]

    @staticmethod
    def _append(conn: psycopg.Connection[Any], events: Sequence[CaseEvent]) -> None:
        if events:
            conn.execute(
                "INSERT INTO events (case_id, doc) SELECT e->>'case_id', e"
                " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n",
                (_dumps([e.to_dict() for e in events]),),
            )

    @staticmethod
    def _enqueue(conn: psycopg.Connection[Any], items: Sequence[OutboxItem]) -> None:
        if items:
            conn.execute(
                "INSERT INTO outbox (id, case_id, created_at, next_attempt_at, doc)"
                " SELECT o->>'id', o->>'case_id', (o->>'created_at')::timestamptz,"
                " coalesce((o->>'next_attempt_at')::timestamptz, '-infinity'), o"
                " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(o, n) ORDER BY n",
                (_dumps([i.to_dict() for i in items]),),
            )

    def has_mention(self, mention_id: str) -> bool:
        return self._one("SELECT 1 FROM cases WHERE mention_id = %s", (mention_id,)) is not None

    def known_mentions(self, mention_ids: Sequence[str]) -> set[str]:
        """Which of these mention ids already have a case (one query for a whole batch)."""
        if not mention_ids:
            return set()
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT mention_id FROM cases WHERE mention_id = ANY(%s)", (list(mention_ids),)
            ).fetchall()
        return {r[0] for r in rows}

    def active_cases_of_mentions(self, mention_ids: Sequence[str]) -> dict[str, str]:
        """One query over the mention id index, kept to the active states."""
        if not mention_ids:
            return {}
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT mention_id, id FROM cases WHERE mention_id = ANY(%s) AND state = ANY(%s)",
                (list(mention_ids), sorted(_ACTIVE)),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def get_case(self, case_id: str) -> Case:
        row = self._one("SELECT doc FROM cases WHERE id = %s", (case_id,))
        if row is None:
            raise CaseNotFound(f"no case {case_id}")
        return Case.from_dict(row[0])

    def save_case(
        self,
        case: Case,
        expected_version: int,
        events: Sequence[CaseEvent] = (),
        outbox: Sequence[OutboxItem] = (),
    ) -> None:
        """One conditional UPDATE on ``version``, with the events and outbox items."""
        check_next_version(case, expected_version)
        try:
            with self._pool.connection() as conn:  # one statement: its own transaction
                self._compare_and_set(conn, CaseChange(case, expected_version, events, outbox))
        except PoolTimeout:
            raise StoreError(
                "no PostgreSQL connection available (pool exhausted or server down)"
            ) from None

    @staticmethod
    def _compare_and_set(conn: psycopg.Connection[Any], change: CaseChange) -> None:
        """``save_case`` in one statement (atomic on its own, or part of the caller's
        transaction): the conditional UPDATE, and the events and outbox items inserted only
        when it changed the row."""
        case, expected_version = change.case, change.expected_version
        row = _case_row(case)
        changed = conn.execute(
            "WITH changed AS ("
            " UPDATE cases SET state = %s, department = %s, ingested_at = %s, version = %s,"
            " doc = %s::jsonb, url_keys = %s, author_key = %s, keys_version = %s"
            " WHERE id = %s AND version = %s RETURNING id"
            "), logged AS ("
            " INSERT INTO events (case_id, doc) SELECT e->>'case_id', e"
            " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n)"
            " WHERE EXISTS (SELECT 1 FROM changed) ORDER BY n"
            "), queued AS ("
            " INSERT INTO outbox (id, case_id, created_at, next_attempt_at, doc)"
            " SELECT o->>'id', o->>'case_id', (o->>'created_at')::timestamptz,"
            " coalesce((o->>'next_attempt_at')::timestamptz, '-infinity'), o"
            " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(o, n)"
            " WHERE EXISTS (SELECT 1 FROM changed) ORDER BY n"
            ") SELECT count(*) FROM changed",
            (
                *row[3:6],
                case.version,
                _dumps(row[7]),
                row[8],
                row[9],
                case.version,
                case.id,
                expected_version,
                _dumps([e.to_dict() for e in change.events]),
                _dumps([i.to_dict() for i in change.outbox]),
            ),
        ).fetchone()
        if not changed or changed[0] == 0:
            found = conn.execute("SELECT version FROM cases WHERE id = %s", (case.id,))
            current = found.fetchone()
            if current is None:
                raise CaseNotFound(f"no case {case.id}")
            raise VersionConflict(
                f"case {case.id} is at version {current[0]}, "
                f"not {expected_version}: it changed meanwhile"
            )

    def list_cases(
        self,
        *,
        states: Iterable[CaseState] | None = None,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Case]:
        wanted = None if states is None else sorted({CaseState(s).value for s in states})
        if wanted == [] or (limit is not None and limit <= 0):
            return []
        where, params = _pg_facts.case_filter(wanted, department, since, until)
        condition = where + _pg_facts.ORDER
        if wanted is not None and set(wanted) <= _ACTIVE and limit is None:
            with self._tx() as conn:
                return self._active.read(conn, condition, params)
        query = "SELECT doc FROM cases" + condition
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        with self._tx() as conn:
            rows = conn.execute(query, params).fetchall()
        return [Case.from_dict(r[0]) for r in rows]

    def sla_facts(
        self,
        *,
        states: Iterable[CaseState] | None = None,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SlaFacts]:
        """The facts of the cases ``list_cases`` would give, from the narrow columns only."""
        wanted = None if states is None else sorted({CaseState(s).value for s in states})
        if wanted == []:
            return []
        with self._tx() as conn:
            return _pg_facts.read_sla_facts(conn, wanted, department, since, until)

    def active_count(self) -> int:
        """The sum of the active states' rows in ``case_counts``, which the triggers of
        migration 8 append to in each write's own transaction. Past ``FOLD_COUNTS_AT`` rows
        they are folded into one row a state first: rows that another write commits meanwhile
        are not seen by the fold's delete and stay for the next one, so the sums never
        change."""
        row = self._one(
            "SELECT coalesce(sum(n) FILTER (WHERE " + _pg_facts.ACTIVE_SQL + "), 0), count(*)"
            " FROM case_counts"
        )
        assert row is not None
        if row[1] > FOLD_COUNTS_AT:
            with self._tx() as conn:
                conn.execute(
                    "WITH gone AS (DELETE FROM case_counts RETURNING state, n)"
                    " INSERT INTO case_counts (state, n)"
                    " SELECT state, sum(n) FROM gone GROUP BY state HAVING sum(n) <> 0"
                )
        return int(row[0])

    def crosspost_candidates(
        self, urls: Iterable[str], authors: Iterable[str], since: datetime
    ) -> list[Case]:
        """Active cases since ``since`` whose keys meet ``urls`` or ``authors``, newest first.

        Rows whose keys were written for another version (by an older triagebot, or before
        migration 3) are returned too and get their keys written now.
        """
        wanted = sorted(set(urls)), sorted({a for a in authors if a})
        with self._tx() as conn:
            cases, stale = _pg_facts.read_candidates(conn, *wanted, since)
        if stale:
            with self._tx() as conn:
                _pg_facts.write_keys(conn, stale)
        return cases

    def events(self, case_id: str) -> list[CaseEvent]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT doc FROM events WHERE case_id = %s ORDER BY seq", (case_id,)
            ).fetchall()
        return [CaseEvent.from_dict(r[0]) for r in rows]

    def acted_cases(
        self,
        actions: Iterable[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[Case, list[CaseEvent]]]:
        """Through the index on the events' action and time (see ``_pg_events``)."""
        with self._tx() as conn:
            return _pg_events.read_acted(conn, actions, since, until)

    # --- source cursors ------------------------------------------------------------------
    def get_cursor(self, source: str) -> str | None:
        row = self._one("SELECT cursor FROM cursors WHERE source = %s", (source,))
        return None if row is None else str(row[0])

    def set_cursor(self, source: str, cursor: str | None) -> None:
        with self._tx() as conn:
            if cursor is None:
                conn.execute("DELETE FROM cursors WHERE source = %s", (source,))
            else:
                conn.execute(
                    "INSERT INTO cursors (source, cursor) VALUES (%s, %s)"
                    " ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor",
                    (source, cursor),
                )

    def set_cursors(self, cursors: Mapping[str, str | None]) -> None:
        """``set_cursor`` for many sources in one transaction."""
        with self._tx() as conn:
            for source, cursor in cursors.items():
                if cursor is None:
                    conn.execute("DELETE FROM cursors WHERE source = %s", (source,))
                else:
                    conn.execute(
                        "INSERT INTO cursors (source, cursor) VALUES (%s, %s)"
                        " ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor",
                        (source, cursor),
                    )

    # --- places --------------------------------------------------------------------------
    def remember_place(self, surface: str, place_id: str, data: Mapping[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO places (surface, id, doc) VALUES (%s, %s, %s::jsonb)"
                " ON CONFLICT (surface, id) DO UPDATE SET doc = EXCLUDED.doc",
                (surface, place_id, _dumps(dict(data))),
            )

    def places(self, surface: str) -> dict[str, dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, doc FROM places WHERE surface = %s ORDER BY id", (surface,)
            ).fetchall()
        return {str(r[0]): dict(r[1]) for r in rows}

    # --- outbox --------------------------------------------------------------------------
    def lease_outbox(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Due items, oldest first, taken with ``FOR UPDATE SKIP LOCKED`` and hidden."""
        if limit <= 0:
            return []
        now = utc(now)
        until = now + lease
        with self._tx() as conn:
            rows = conn.execute(
                "WITH due AS (SELECT id FROM outbox WHERE next_attempt_at <= %s"
                " ORDER BY created_at, seq LIMIT %s FOR UPDATE SKIP LOCKED)"
                " UPDATE outbox o SET next_attempt_at = %s FROM due WHERE o.id = due.id"
                " RETURNING o.doc, o.created_at, o.seq",
                (now, limit, until),
            ).fetchall()
        rows.sort(key=lambda r: (r[1], r[2]))
        return [OutboxItem.from_dict(r[0] | {"next_attempt_at": iso(until)}) for r in rows]

    def queue_outbox(self, items: Sequence[OutboxItem]) -> list[bool]:
        """One INSERT; ids already queued (or repeated in ``items``) are skipped."""
        if not items:
            return []
        first = {item.id: n for n, item in reversed(list(enumerate(items)))}
        fresh = [item for n, item in enumerate(items) if first[item.id] == n]
        with self._tx() as conn:
            rows = conn.execute(
                "INSERT INTO outbox (id, case_id, created_at, next_attempt_at, doc)"
                " SELECT o->>'id', o->>'case_id', (o->>'created_at')::timestamptz,"
                " coalesce((o->>'next_attempt_at')::timestamptz, '-infinity'), o"
                " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(o, n) ORDER BY n"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                (_dumps([i.to_dict() for i in fresh]),),
            ).fetchall()
        added = {r[0] for r in rows}
        return [first[item.id] == n and item.id in added for n, item in enumerate(items)]

    def complete_outbox(self, item_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM outbox WHERE id = %s", (item_id,))

    def finish_delivery(
        self,
        item_id: str,
        case_id: str,
        refs: Sequence[MessageRef] = (),
        change: CaseChange | None = None,
    ) -> None:
        """The refs, the case's compare-and-set and the item's removal in one transaction."""
        if change is not None:
            check_next_version(change.case, change.expected_version)
            if change.case.id != case_id:
                raise ValueError(f"the change is of case {change.case.id}, not {case_id}")
        try:
            with self._tx() as conn:
                if change is not None:
                    self._compare_and_set(conn, change)
                if refs:
                    self._put_refs(conn, [(case_id, ref) for ref in refs])
                conn.execute("DELETE FROM outbox WHERE id = %s", (item_id,))
        except psycopg.errors.ForeignKeyViolation:
            raise CaseNotFound(f"no case {case_id}") from None

    def retry_outbox(self, item: OutboxItem) -> None:
        fields = item.to_dict()
        change = {k: fields[k] for k in ("attempts", "next_attempt_at", "last_error", "done")}
        at = item.next_attempt_at
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET doc = doc || %s::jsonb, next_attempt_at = %s WHERE id = %s",
                (_dumps(change), _NEVER if at is None else utc(at), item.id),
            )

    def renew_outbox(self, items: Sequence[OutboxItem], until: datetime | None) -> list[OutboxItem]:
        """One UPDATE, matching each item on its id and the lease it holds."""
        held = [item for item in items if item.next_attempt_at is not None]
        if not held:
            return []
        with self._tx() as conn:
            rows = conn.execute(
                "UPDATE outbox o SET next_attempt_at = %s"
                " FROM unnest(%s::text[], %s::timestamptz[]) AS h(id, held)"
                " WHERE o.id = h.id AND o.next_attempt_at = h.held RETURNING o.id",
                (
                    _NEVER if until is None else utc(until),
                    [item.id for item in held],
                    [item.next_attempt_at for item in held],
                ),
            ).fetchall()
        moved = {str(row[0]) for row in rows}
        return [replace(item, next_attempt_at=until) for item in held if item.id in moved]

    def pending_outbox(self) -> int:
        row = self._one("SELECT count(*) FROM outbox")
        return int(row[0]) if row else 0

    # --- message refs --------------------------------------------------------------------
    def set_message_ref(self, case_id: str, ref: MessageRef) -> None:
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO message_refs (case_id, surface, doc) VALUES (%s, %s, %s::jsonb)"
                    " ON CONFLICT (case_id, surface) DO UPDATE SET doc = EXCLUDED.doc",
                    (case_id, ref.surface, _dumps(ref.to_dict())),
                )
        except psycopg.errors.ForeignKeyViolation:
            raise CaseNotFound(f"no case {case_id}") from None

    def message_refs(self, case_id: str) -> dict[str, MessageRef]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT surface, doc FROM message_refs WHERE case_id = %s", (case_id,)
            ).fetchall()
        return {surface: MessageRef.from_dict(doc) for surface, doc in rows}

    # --- bulk import (migrate-store) ----------------------------------------------------
    def put_message_refs(self, refs: Sequence[tuple[str, MessageRef]]) -> None:
        """Store many (case id, ref) pairs in one transaction."""
        if not refs:
            return
        with self._tx() as conn:
            self._put_refs(conn, refs)

    @staticmethod
    def _put_refs(conn: psycopg.Connection[Any], refs: Sequence[tuple[str, MessageRef]]) -> None:
        rows = _dumps(
            [{"c": case_id, "s": ref.surface, "d": ref.to_dict()} for case_id, ref in refs]
        )
        conn.execute(
            "INSERT INTO message_refs (case_id, surface, doc)"
            " SELECT r->>'c', r->>'s', r->'d' FROM jsonb_array_elements(%s::jsonb) AS t(r)"
            " ON CONFLICT (case_id, surface) DO UPDATE SET doc = EXCLUDED.doc",
            (rows,),
        )

    def put_outbox(self, items: Sequence[OutboxItem]) -> None:
        """Queue items as they are, in this order, in one transaction."""
        with self._tx() as conn:
            self._enqueue(conn, items)

    def reserve_case_ids(self, next_id: int) -> None:
        """Make sure no case id below ``next_id`` is ever handed out."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE counters SET value = greatest(value, %s) WHERE name = 'next_case'",
                (next_id,),
            )

    def counts(self) -> dict[str, int]:
        """Rows per table: cases, events, message_refs, outbox, cursors."""
        tables = ("cases", "events", "message_refs", "outbox", "cursors")
        query = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        row = self._one(query)
        assert row is not None
        return dict(zip(tables, map(int, row), strict=True))

    # --- lifecycle and leadership --------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the missing schema migrations (``triagebot migrate``)."""
        with self._pool.connection() as conn:
            return _pg_schema.migrate(conn)

    def leadership(self, name: str = "scheduler") -> PgLeadership:
        """A session advisory lock on a dedicated direct connection (see ``_pg_leader``)."""
        return PgLeadership(self._conninfo, name)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
