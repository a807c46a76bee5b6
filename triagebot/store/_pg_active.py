"""Active cases of the PostgreSQL store, kept between reads as their document's text.

The SLA watcher lists every active case each minute and the board on each refresh; most of
them have not changed since the last read. ``ActiveCases.read`` asks the database for the ids,
versions, states and departments first and fetches only the documents of versions it has not
seen, both in one repeatable-read transaction, so the result is one snapshot of the table. A
version identifies a case's content: every change is a compare-and-set that increments it.

The documents are kept as their JSON text, compressed (``_squeeze``: a fraction of the
~1.7 kB of text; decoded, a case took ~4 kB of Python objects, and 50,000 of them most of a
``serve`` process), and the cases returned are ``LazyCase``s: their id, version, state and
department come from the row, the rest is decoded from the text when first read.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg

from triagebot.cases.records import Case, CaseState
from triagebot.errors import StoreError
from triagebot.store._lazy import LazyCase
from triagebot.store._squeeze import squeeze, unsqueeze

_STATES = {state.value: state for state in CaseState}


def decode_text(raw: bytes) -> Case:
    """The case of a document's (compressed) JSON text; ``StoreError`` if it is malformed."""
    try:
        return Case.from_dict(orjson.loads(unsqueeze(raw)))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"PostgreSQL: a stored case is malformed ({exc!r})") from None


class ActiveCases:
    """Document texts by case id with their version, as last read; bounded by the number of
    active cases listed."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def read(self, conn: psycopg.Connection[Any], where: str, params: Sequence[Any]) -> list[Case]:
        """The cases ``SELECT … FROM cases {where}`` lists, in its order."""
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = conn.execute(
            f"SELECT id, version, state, department FROM cases {where}", params
        ).fetchall()
        with self._lock:  # what this read keeps: another thread may prune the cache meanwhile
            known = self._docs
            kept = {i: d for i, v, _, _ in rows if (d := known.get(i)) is not None and d[0] == v}
        missing = [i for i, _, _, _ in rows if i not in kept]
        if missing:
            docs = conn.execute(
                "SELECT id, version, doc::text FROM cases WHERE id = ANY(%s)", (missing,)
            )
            kept.update((i, (v, squeeze(text.encode()))) for i, v, text in docs)
        found: list[Case] = [
            LazyCase.of_fields(
                {"id": i, "version": v, "state": _STATES[state], "department": department},
                kept[i][1],
                decode_text,
            )
            for i, v, state, department in rows
        ]
        with self._lock:
            cached = self._docs
            for i in missing:  # never replace a newer version another read has just cached
                if (old := cached.get(i)) is None or old[0] < kept[i][0]:
                    cached[i] = kept[i]
            if len(cached) > 2 * len(rows) + 1_000:  # forget cases no longer listed
                self._docs = {i: kept[i] for i, _, _, _ in rows}
        return found
