"""Decoded active cases of the PostgreSQL store, kept between reads by case version.

The SLA watcher lists every active case each minute and the board on each refresh; most of
them have not changed since the last read. ``ActiveCases.read`` asks the database for the ids
and versions first and fetches (and decodes) only the documents of versions it has not seen,
both in one repeatable-read transaction, so the result is one snapshot of the table. A version
identifies a case's content: every change is a compare-and-set that increments it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from triagebot.cases.records import Case
from triagebot.store._frozen import freeze_long_lived

#: Decoding this many cases in one read moves everything then alive out of the garbage
#: collector's full scans (``gc.freeze``): the cached cases are long-lived and hold no cycles
#: (refcounting still frees them), and a full collection walking 50,000 of them paused the
#: process for ~0.5 s, in the middle of a click.
FREEZE_AT = 1_000


class ActiveCases:
    """Cases by id, as last read; bounded by the number of active cases listed."""

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}
        self._lock = threading.Lock()

    def read(self, conn: psycopg.Connection[Any], where: str, params: Sequence[Any]) -> list[Case]:
        """The cases ``SELECT … FROM cases {where}`` lists, in its order, decoded once each."""
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = conn.execute(f"SELECT id, version FROM cases {where}", params).fetchall()
        with self._lock:  # what this read keeps: another thread may prune the cache meanwhile
            known = self._cases
            kept = {i: c for i, v in rows if (c := known.get(i)) is not None and c.version == v}
        missing = [i for i, _ in rows if i not in kept]
        if missing:
            docs = conn.execute("SELECT doc FROM cases WHERE id = ANY(%s)", (missing,))
            kept.update((case.id, case) for case in map(Case.from_dict, (r[0] for r in docs)))
        found = [kept[i] for i, _ in rows]
        with self._lock:
            cases = self._cases
            for i in missing:  # never replace a newer version another read has just cached
                if (cached := cases.get(i)) is None or cached.version < kept[i].version:
                    cases[i] = kept[i]
            if len(cases) > 2 * len(rows) + 1_000:  # forget cases no longer listed
                self._cases = {case.id: case for case in found}
        if len(missing) >= FREEZE_AT:
            freeze_long_lived()
        return found
