"""Reading the cases a kind of event happened to from PostgreSQL (``acted_cases``).

The events are found through the index on their action and time (migration 5): times are
stored as ISO 8601 UTC text, whose text order is time order, so the bounds are compared as
text and each event's time is checked again once decoded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg

from triagebot.cases.records import Case, CaseEvent
from triagebot.cases.time_fields import iso, utc


def read_acted(
    conn: psycopg.Connection[Any],
    actions: Iterable[str],
    since: datetime | None,
    until: datetime | None,
) -> list[tuple[Case, list[CaseEvent]]]:
    """Cases with a matching event, each with its trail, in the order of the first match."""
    wanted = sorted(set(actions))
    if not wanted:
        return []
    where = ["doc->>'action' = ANY(%s)"]
    params: list[Any] = [wanted]
    if since is not None:
        where.append("doc->>'at' >= %s")
        params.append(iso(since))
    if until is not None:
        where.append("doc->>'at' < %s")
        params.append(iso(until))
    rows = conn.execute(
        f"SELECT case_id, doc FROM events WHERE {' AND '.join(where)} ORDER BY seq",
        params,
    ).fetchall()
    low = None if since is None else utc(since)
    high = None if until is None else utc(until)
    first: dict[str, datetime] = {}
    for case_id, doc in rows:
        event = CaseEvent.from_dict(doc)
        if (low is None or event.at >= low) and (high is None or event.at < high):
            first.setdefault(str(case_id), event.at)
    if not first:
        return []
    ids = list(first)
    docs = conn.execute("SELECT id, doc FROM cases WHERE id = ANY(%s)", (ids,)).fetchall()
    trails: dict[str, list[CaseEvent]] = {}
    for case_id, doc in conn.execute(
        "SELECT case_id, doc FROM events WHERE case_id = ANY(%s) ORDER BY case_id, seq", (ids,)
    ):
        trails.setdefault(str(case_id), []).append(CaseEvent.from_dict(doc))
    found = [(str(cid), Case.from_dict(doc)) for cid, doc in docs]
    found.sort(key=lambda pair: (first[pair[0]], pair[0]))
    return [(case, trails.get(cid, [])) for cid, case in found]
