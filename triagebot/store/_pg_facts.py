"""Reads of the PostgreSQL store's narrow per-case columns (migrations 3 and 7): SLA facts and
the cross-post lookup by keys. The facts columns are kept by the ``cases_sla_facts`` trigger; the
keys are written by the store with the case and carry the version they were computed for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg

from triagebot.cases.facts import SlaFacts, crosspost_keys, gc_paused
from triagebot.cases.records import Case
from triagebot.cases.time_fields import utc

ACTIVE_SQL = "state IN ('new', 'open', 'claimed')"  # the predicate of the partial indexes
_STALE_SQL = "keys_version IS DISTINCT FROM version"  # keys written for another version
_SLA_COLUMNS = (
    "id, state, department, priority, source, person, ingested_us, posted_us,"
    " first_claimed_us, resolved_us, claim_due_us, resolve_due_us,"
    " respond_due_us, first_response_us, waiting_since_us"
)
ORDER = " ORDER BY ingested_at DESC, id_num DESC NULLS FIRST, id DESC"


def case_filter(
    states: list[str] | None,
    department: str | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[str, list[Any]]:
    """`` WHERE …`` (or "") and its parameters: ``states``, ``department``, ingested in
    ``since <= ingested_at < until``; None leaves that condition out."""
    where: list[str] = []
    params: list[Any] = []
    if states is not None:
        where.append("state = ANY(%s)")
        params.append(states)
    if department is not None:
        where.append("department = %s")
        params.append(department)
    if since is not None:
        where.append("ingested_at >= %s")
        params.append(utc(since))
    if until is not None:
        where.append("ingested_at < %s")
        params.append(utc(until))
    return (" WHERE " + " AND ".join(where) if where else ""), params


def read_sla_facts(
    conn: psycopg.Connection[Any],
    states: list[str] | None,
    department: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[SlaFacts]:
    """The facts of the cases in ``since <= ingested_at < until`` (in ``states``, of
    ``department``)."""
    where, params = case_filter(states, department, since, until)
    query = f"SELECT {_SLA_COLUMNS} FROM cases" + where
    with gc_paused(), conn.cursor(binary=True) as cur:
        rows = cur.execute(query, params).fetchall()
        return [SlaFacts._make(r) for r in rows]


def read_candidates(
    conn: psycopg.Connection[Any], urls: list[str], authors: list[str], since: datetime
) -> tuple[list[Case], list[Case]]:
    """(active cases since ``since`` sharing a key, newest first; those of them whose keys
    were written for another version, by an older triagebot or before migration 3)."""
    rows = conn.execute(
        "SELECT doc, keys_version IS DISTINCT FROM version FROM cases WHERE id = ANY(ARRAY("
        f"SELECT id FROM cases WHERE {ACTIVE_SQL} AND url_keys && %s::text[]"
        f" UNION SELECT id FROM cases WHERE {ACTIVE_SQL} AND author_key = ANY(%s::text[])"
        f" UNION SELECT id FROM cases WHERE {ACTIVE_SQL} AND {_STALE_SQL}))"
        f" AND {ACTIVE_SQL} AND ingested_at >= %s" + ORDER,
        (urls, authors, utc(since)),
    ).fetchall()
    cases = [Case.from_dict(r[0]) for r in rows]
    return cases, [case for case, r in zip(cases, rows, strict=True) if r[1]]


def write_keys(conn: psycopg.Connection[Any], cases: Sequence[Case]) -> None:
    """Store the cross-post keys of these versions (a newer version keeps its own)."""
    rows = []
    for case in cases:
        keys = crosspost_keys(case)
        rows.append({"i": case.id, "v": case.version, "u": sorted(keys.urls), "a": keys.author})
    conn.execute(
        "UPDATE cases c SET url_keys = ARRAY(SELECT jsonb_array_elements_text(r->'u')),"
        " author_key = r->>'a', keys_version = (r->>'v')::int"
        " FROM jsonb_array_elements(%s::jsonb) AS t(r)"
        " WHERE c.id = r->>'i' AND c.version = (r->>'v')::int",
        (orjson.dumps(rows).decode(),),
    )
