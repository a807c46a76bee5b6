"""PostgreSQL schema: versioned migrations, the version check, and connection settings.

Migrations are numbered SQL scripts applied in order inside one transaction under an advisory
lock, each recorded in ``schema_migrations``; ``triagebot migrate`` (Heroku's release phase)
applies them. The store itself never changes the schema: opened against an older schema it
refuses with a message that says to run ``triagebot migrate``, so that a web dyno of a new
release never races the release phase or an old dyno still serving requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import conninfo

from triagebot.errors import StoreError
from triagebot.store._pg_actors import qualify_actors

#: (version, description, SQL or a function of the connection run in the same transaction).
#: Append new migrations; never edit an applied one.
MIGRATIONS: list[tuple[int, str, str | Callable[[psycopg.Connection[Any]], None]]] = [
    (
        1,
        "cases, events, outbox, message refs, cursors",
        """
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO counters VALUES ('next_case', 1);

CREATE TABLE cases (
    id text PRIMARY KEY,
    id_num bigint,
    mention_id text NOT NULL UNIQUE,
    state text NOT NULL,
    department text NOT NULL,
    ingested_at timestamptz NOT NULL,
    version integer NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX cases_ingested ON cases (ingested_at DESC, id_num DESC);
CREATE INDEX cases_state ON cases (state, ingested_at DESC);
CREATE INDEX cases_department ON cases (department, ingested_at DESC);

CREATE TABLE events (
    seq bigserial PRIMARY KEY,
    case_id text NOT NULL REFERENCES cases (id),
    doc jsonb NOT NULL
);
CREATE INDEX events_case ON events (case_id, seq);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE outbox (
    id text PRIMARY KEY,
    seq bigserial NOT NULL,
    case_id text NOT NULL,
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE INDEX outbox_order ON outbox (created_at, seq);

CREATE TABLE message_refs (
    case_id text NOT NULL REFERENCES cases (id),
    surface text NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (case_id, surface)
);

CREATE TABLE cursors (source text PRIMARY KEY, cursor text NOT NULL);
""",
    ),
    (
        2,
        "places a surface can post to",
        """
CREATE TABLE places (
    surface text NOT NULL,
    id text NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (surface, id)
);
""",
    ),
    (
        3,
        "SLA facts and cross-post keys beside each case",
        """
ALTER TABLE cases
    ADD COLUMN priority text,
    ADD COLUMN source text,
    ADD COLUMN person text,
    ADD COLUMN ingested_us bigint,
    ADD COLUMN posted_us bigint,
    ADD COLUMN first_claimed_us bigint,
    ADD COLUMN resolved_us bigint,
    ADD COLUMN claim_due_us bigint,
    ADD COLUMN resolve_due_us bigint,
    ADD COLUMN url_keys text[],
    ADD COLUMN author_key text,
    ADD COLUMN keys_version integer;

CREATE FUNCTION case_us(value text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT (extract(epoch FROM value::timestamptz) * 1000000)::bigint
$$;

-- The SLA facts always describe the document of the row, whoever writes it.
CREATE FUNCTION cases_sla_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.priority := NEW.doc->>'priority';
    NEW.source := NEW.doc->'mention'->>'source';
    NEW.person := CASE WHEN NEW.doc->>'first_claimed_at' IS NULL THEN NULL
        ELSE coalesce(nullif(NEW.doc->>'claimed_by', ''), NEW.doc->>'resolved_by') END;
    NEW.ingested_us := case_us(NEW.doc->>'ingested_at');
    NEW.posted_us := case_us(NEW.doc->'mention'->>'created_at');
    NEW.first_claimed_us := case_us(NEW.doc->>'first_claimed_at');
    NEW.resolved_us := case_us(NEW.doc->>'resolved_at');
    NEW.claim_due_us := case_us(NEW.doc->>'claim_due');
    NEW.resolve_due_us := case_us(NEW.doc->>'resolve_due');
    RETURN NEW;
END $$;
CREATE TRIGGER cases_sla_facts BEFORE INSERT OR UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_sla_facts();

UPDATE cases SET doc = doc;

-- The summary reads these columns only (index-only where the pages are all visible).
CREATE INDEX cases_sla ON cases (ingested_at) INCLUDE (
    id, state, department, priority, source, person, ingested_us, posted_us,
    first_claimed_us, resolved_us, claim_due_us, resolve_due_us
);
CREATE INDEX cases_active_url_keys ON cases USING gin (url_keys)
    WHERE state IN ('new', 'open', 'claimed');
CREATE INDEX cases_active_author ON cases (author_key)
    WHERE state IN ('new', 'open', 'claimed');
CREATE INDEX cases_active_stale_keys ON cases (ingested_at)
    WHERE state IN ('new', 'open', 'claimed') AND keys_version IS DISTINCT FROM version;
""",
    ),
    (
        4,
        "link keys indexed without a pending list",
        """
-- A batch looks up ~1,000 link keys at once; GIN's pending list of recent inserts is scanned
-- for every key, which made that lookup take a third of a second.
ALTER INDEX cases_active_url_keys SET (fastupdate = off);
SELECT gin_clean_pending_list('cases_active_url_keys'::regclass);
""",
    ),
    (
        5,
        "events found by action and time",
        """
-- The team's corrections (reassign, spam, resolve) are read by action and time for routing
-- reports and retraining. Times are ISO 8601 UTC text in one format, so text order is time
-- order.
CREATE INDEX events_action_at ON events ((doc->>'action'), (doc->>'at'));
""",
    ),
    (6, "actors qualified by the surface that recorded them", qualify_actors),
    (
        7,
        "first-response SLA facts beside each case",
        """
ALTER TABLE cases
    ADD COLUMN respond_due_us bigint,
    ADD COLUMN first_response_us bigint,
    ADD COLUMN waiting_since_us bigint;

CREATE OR REPLACE FUNCTION cases_sla_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.priority := NEW.doc->>'priority';
    NEW.source := NEW.doc->'mention'->>'source';
    NEW.person := CASE WHEN NEW.doc->>'first_claimed_at' IS NULL THEN NULL
        ELSE coalesce(nullif(NEW.doc->>'claimed_by', ''), NEW.doc->>'resolved_by') END;
    NEW.ingested_us := case_us(NEW.doc->>'ingested_at');
    NEW.posted_us := case_us(NEW.doc->'mention'->>'created_at');
    NEW.first_claimed_us := case_us(NEW.doc->>'first_claimed_at');
    NEW.resolved_us := case_us(NEW.doc->>'resolved_at');
    NEW.claim_due_us := case_us(NEW.doc->>'claim_due');
    NEW.resolve_due_us := case_us(NEW.doc->>'resolve_due');
    NEW.respond_due_us := case_us(NEW.doc->>'respond_due');
    NEW.first_response_us := case_us(NEW.doc->'first_response'->>'at');
    NEW.waiting_since_us := case_us(NEW.doc->>'waiting_since');
    RETURN NEW;
END $$;

-- Only documents that hold one of the new fields have anything to fill in.
UPDATE cases SET doc = doc
    WHERE doc ? 'respond_due' OR doc ? 'first_response' OR doc ? 'waiting_since';

DROP INDEX cases_sla;
CREATE INDEX cases_sla ON cases (ingested_at) INCLUDE (
    id, state, department, priority, source, person, ingested_us, posted_us,
    first_claimed_us, resolved_us, claim_due_us, resolve_due_us,
    respond_due_us, first_response_us, waiting_since_us
);
""",
    ),
    (
        8,
        "case counts by state, kept by the writes that change them",
        """
-- What /healthz reports every 2 s without counting the active cases: each statement that
-- inserts, deletes or changes the state of cases adds one row per state it changed (the net
-- change) in its own transaction; a reader sums them, and folds them into one row per state
-- when they pile up (``PostgresStore.active_count``). Appending rows, never updating one,
-- keeps writers of different cases from waiting on each other.
CREATE TABLE case_counts (state text NOT NULL, n bigint NOT NULL);
CREATE INDEX case_counts_state ON case_counts (state);

CREATE FUNCTION case_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_counts (state, n) SELECT state, count(*) FROM new_rows GROUP BY state;
    RETURN NULL;
END $$ SET search_path FROM CURRENT;
CREATE FUNCTION case_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_counts (state, n)
        SELECT state, sum(n) FROM (
            SELECT state, -1 FROM old_rows UNION ALL SELECT state, 1 FROM new_rows
        ) AS d (state, n)
        GROUP BY state HAVING sum(n) <> 0;
    RETURN NULL;
END $$ SET search_path FROM CURRENT;
CREATE FUNCTION case_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_counts (state, n) SELECT state, -count(*) FROM old_rows GROUP BY state;
    RETURN NULL;
END $$ SET search_path FROM CURRENT;
CREATE TRIGGER case_counts_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION case_counts_insert();
CREATE TRIGGER case_counts_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION case_counts_update();
CREATE TRIGGER case_counts_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION case_counts_delete();

-- The triggers' lock on cases keeps writers out until this commits: the count is exact.
INSERT INTO case_counts (state, n) SELECT state, count(*) FROM cases GROUP BY state;
""",
    ),
]

LATEST = MIGRATIONS[-1][0]
_MIGRATE_LOCK = "triagebot:migrate"


def connection_kwargs(url: str, *, dyno: str | None = None, schema: str | None = None) -> str:
    """A libpq conninfo string for ``url`` as Heroku sets it (``postgres://`` is accepted).

    On a dyno TLS is required (``sslmode=require``) unless the URL chooses a mode itself;
    ``schema`` sets the search path (the tests use a throwaway schema per test).
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise StoreError("DATABASE_URL is not a valid PostgreSQL URL") from None
    extra: dict[str, Any] = {"application_name": "triagebot"}
    if dyno and "sslmode" not in params:
        extra["sslmode"] = "require"
    if schema:
        extra["options"] = f"-c search_path={schema}"
    return conninfo.make_conninfo(url, **extra)


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest applied migration; 0 on an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def check_schema(conn: psycopg.Connection[Any]) -> None:
    """Raise ``StoreError`` unless the schema is exactly what this code expects."""
    version = schema_version(conn)
    conn.rollback()
    if version < LATEST:
        raise StoreError(
            f"the PostgreSQL schema is at version {version}, this triagebot needs {LATEST}: "
            "run `triagebot migrate` (Heroku runs it in the release phase)"
        )
    if version > LATEST:
        raise StoreError(
            f"the PostgreSQL schema is at version {version}, newer than this triagebot "
            f"knows ({LATEST}): upgrade triagebot"
        )


def migrate(conn: psycopg.Connection[Any], upto: int | None = None) -> list[str]:
    """Apply the missing migrations in one transaction; what was done, one line each.

    ``upto`` stops at that version (tests build stores of an earlier version with it).
    """
    done: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, description text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = schema_version(conn)
        for version, description, script in MIGRATIONS:
            if version <= current or (upto is not None and version > upto):
                continue
            if callable(script):
                script(conn)
            else:
                conn.execute(script)
            conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                (version, description),
            )
            done.append(f"applied migration {version}: {description}")
    return done
