"""PostgreSQL migration 6: the actors an earlier version stored become qualified identities.

Each case whose ``claimed_by`` or ``resolved_by`` is a bare id or name gets them qualified from
its events (``triagebot.cases.qualify``), in batches of cases by id, inside the migration's
transaction. The case's version does not change (nothing happened to the case); the SLA facts
trigger recomputes the person the case counts for. Events stay as they were written (the table
is append-only); they are qualified as they are read.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from triagebot.cases.qualify import qualified_case

BATCH = 500


def qualify_actors(conn: psycopg.Connection[Any]) -> None:
    """Rewrite the cases whose actors are bare (see the module docstring)."""
    last = ""
    while True:
        rows = conn.execute(
            "SELECT id, doc FROM cases WHERE id > %s AND ("
            " (doc->>'claimed_by') NOT SIMILAR TO '(slack|teams|board|cli|system|legacy):%%'"
            " OR (doc->>'resolved_by') NOT SIMILAR TO '(slack|teams|board|cli|system|legacy):%%'"
            ") ORDER BY id LIMIT %s",
            (last, BATCH),
        ).fetchall()
        if not rows:
            return
        trails: dict[str, list[Any]] = {case_id: [] for case_id, _ in rows}
        for case_id, event in conn.execute(
            "SELECT case_id, doc FROM events WHERE case_id = ANY(%s) ORDER BY case_id, seq",
            (list(trails),),
        ):
            trails[case_id].append(event)
        for case_id, doc in rows:
            new = qualified_case(doc, trails[case_id])
            if new is not None:
                conn.execute("UPDATE cases SET doc = %s WHERE id = %s", (Jsonb(new), case_id))
        last = rows[-1][0]
