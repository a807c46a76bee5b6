"""``triagebot sla export``: one row per case with every timestamp and duration, for spreadsheets.

Timestamps are ISO 8601 in UTC; durations are seconds (0.1 s), business time of the case's
department unless the column says ``wall``; ``claim_met``/``respond_met``/``resolve_met`` are
true, false or empty while undecided. The first public response has its own columns:
``respond_due`` (empty on cases ingested before the target), ``first_response_at``, ``_by`` (a
brand handle or a person), ``_via`` (reply, thread or marked), ``_url``, and ``respond_s`` /
``respond_wall_s``; ``waiting_since`` is set while the case waits on the customer (its resolve
is judged against the due time pushed by the wait). CSV writes empty cells for missing values
and JSON lines writes null; ``read_export`` reads either back into the same typed rows (the
round trip is tested).
``claimed_by``/``resolved_by`` are qualified identities (``slack:U0ANA``, ``cli:ana``);
``claimed_by_name``/``resolved_by_name`` the person's name from ``[[people]]`` (else the id),
so that one person's rows from several surfaces group together.

Text cells hold strangers' input (post URLs, ids, staff display names), so a CSV text cell that
a spreadsheet would run as a formula (starting with ``= + - @``, a tab, a CR or a LF) is
written with a leading apostrophe; so is one that starts with an apostrophe, so that reading
back strips exactly one and the round trip stays exact. Every field holding a comma, a quote,
a CR or a LF is quoted, so no cell can split a record (ingest refuses control characters in
mention ids and URLs as well).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from triagebot.cases.identities import Identity
from triagebot.cases.records import Case, CaseState
from triagebot.cases.time_fields import iso
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import (
    department_time,
    resolve_breached,
    respond_met,
    source_lag,
    time_to_claim,
    time_to_resolve,
    time_to_respond,
)

FORMATS = ("csv", "jsonl")
#: The first public response's columns, after the earlier ones (sheets keep their positions).
RESPOND_TIMES = ("respond_due", "first_response_at", "waiting_since")
RESPOND_TEXTS = ("first_response_by", "first_response_via", "first_response_url")
RESPOND_DURATIONS = ("respond_s", "respond_wall_s")
_CLAIM_RESOLVE_TIMES = (
    "posted_at", "ingested_at", "claim_due", "resolve_due", "first_claimed_at", "claimed_at",
    "resolved_at", "updated_at",
)  # fmt: skip
_CLAIM_RESOLVE_DURATIONS = (
    "source_lag_s", "claim_s", "claim_wall_s", "resolve_s", "resolve_wall_s",
)  # fmt: skip
_CLAIM_RESOLVE_FLAGS = ("claim_met", "resolve_met")
TIMES = (*_CLAIM_RESOLVE_TIMES, *RESPOND_TIMES)
DURATIONS = (*_CLAIM_RESOLVE_DURATIONS, *RESPOND_DURATIONS)
FLAGS = (*_CLAIM_RESOLVE_FLAGS, "respond_met")
TEXTS = (
    "case_id", "mention_id", "source", "url", "department", "priority", "state", "claimed_by",
    "resolved_by", "held", "sla_marks", "claimed_by_name", "resolved_by_name", *RESPOND_TEXTS,
)  # fmt: skip
COLUMNS = (
    "case_id", "mention_id", "source", "url", "department", "priority", "state",
    *_CLAIM_RESOLVE_TIMES, *_CLAIM_RESOLVE_DURATIONS, *_CLAIM_RESOLVE_FLAGS,
    "claimed_by", "resolved_by", "held", "sla_marks", "claimed_by_name", "resolved_by_name",
    "respond_due", "first_response_at", "first_response_by", "first_response_via",
    "first_response_url", *RESPOND_DURATIONS, "respond_met", "waiting_since",
)  # fmt: skip
_IDENTITIES = ("claimed_by", "resolved_by", "claimed_by_name", "resolved_by_name")
#: Text columns that are empty (None) when the case has no such value.
_OPTIONAL_TEXTS = (*_IDENTITIES, *RESPOND_TEXTS)

Row = dict[str, Any]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "'")
_QUOTE_WHEN = frozenset(',"\r\n')


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _met(done_at: datetime | None, due: datetime, case: Case, now: datetime) -> bool | None:
    if case.state is CaseState.SPAM:
        return None
    if done_at is not None:
        return done_at <= due
    return False if case.is_active and now > due else None


def _resolve_met(case: Case, calendar: BusinessCalendar, now: datetime) -> bool | None:
    """As ``_met``, with the due time of a case waiting on the customer pushed by the wait."""
    late = resolve_breached(case, now, calendar)
    if case.state is CaseState.RESOLVED and case.resolved_at is not None:
        return not late
    return False if late else None


def _name(who: Identity | None, name_of: Callable[[Identity], str] | None) -> str | None:
    if who is None:
        return None
    return name_of(who) if name_of is not None else who.id


def export_row(
    case: Case,
    calendar: BusinessCalendar,
    now: datetime,
    name_of: Callable[[Identity], str] | None = None,
) -> Row:
    """The export row of one case; ``name_of`` names a person (the people directory)."""
    held = department_time(case, now)
    first = case.first_response
    return {
        "case_id": case.id,
        "mention_id": case.mention.id,
        "source": case.mention.source,
        "url": case.mention.url,
        "department": case.department,
        "priority": case.priority.value,
        "state": case.state.value,
        "posted_at": iso(case.mention.created_at),
        "ingested_at": iso(case.ingested_at),
        "claim_due": iso(case.claim_due),
        "resolve_due": iso(case.resolve_due),
        "first_claimed_at": iso(case.first_claimed_at),
        "claimed_at": iso(case.claimed_at),
        "resolved_at": iso(case.resolved_at),
        "updated_at": iso(case.updated_at),
        "source_lag_s": _seconds(source_lag(case)),
        "claim_s": _seconds(time_to_claim(case, calendar)),
        "claim_wall_s": _seconds(time_to_claim(case, calendar, business=False)),
        "resolve_s": _seconds(time_to_resolve(case, calendar)),
        "resolve_wall_s": _seconds(time_to_resolve(case, calendar, business=False)),
        "claim_met": _met(case.first_claimed_at, case.claim_due, case, now),
        "resolve_met": _resolve_met(case, calendar, now),
        "claimed_by": None if case.claimed_by is None else str(case.claimed_by),
        "resolved_by": None if case.resolved_by is None else str(case.resolved_by),
        "held": ";".join(f"{d}={s.total_seconds():.0f}" for d, s in held.items()),
        "sla_marks": ";".join(case.sla_marks),
        "claimed_by_name": _name(case.claimed_by, name_of),
        "resolved_by_name": _name(case.resolved_by, name_of),
        "respond_due": iso(case.respond_due),
        "first_response_at": None if first is None else iso(first.at),
        "first_response_by": None if first is None else first.by,
        "first_response_via": None if first is None else first.via.value,
        "first_response_url": None if first is None else first.url,
        "respond_s": _seconds(time_to_respond(case, calendar)),
        "respond_wall_s": _seconds(time_to_respond(case, calendar, business=False)),
        "respond_met": respond_met(case, now),
        "waiting_since": iso(case.waiting_since),
    }


def export_rows(
    cases: Iterable[Case],
    calendar_for: Callable[[str], BusinessCalendar],
    now: datetime,
    name_of: Callable[[Identity], str] | None = None,
) -> Iterator[Row]:
    """Rows in the order of ``cases``."""
    for case in cases:
        yield export_row(case, calendar_for(case.department), now, name_of)


def write_export(rows: Iterable[Row], fmt: str, stream: TextIO) -> int:
    """Write ``rows`` as CSV (with a header) or JSON lines; returns how many were written."""
    count = 0
    if fmt == "csv":
        stream.write(_csv_line(COLUMNS))
        for row in rows:
            unknown = row.keys() - set(COLUMNS)
            if unknown:
                raise ValueError(f"not export columns: {', '.join(sorted(unknown))}")
            stream.write(_csv_line([_cell(row.get(name)) for name in COLUMNS]))
            count += 1
        return count
    for row in rows:
        stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_field(value: Any) -> str:
    """One CSV field: quoted when it holds a comma, a quote, a CR or a LF (RFC 4180)."""
    text = value if isinstance(value, str) else str(value)
    if any(ch in text for ch in _QUOTE_WHEN):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_line(values: Iterable[Any]) -> str:
    # Not csv.writer: with "\n" as the line end it leaves a bare CR unquoted, and a CR inside
    # a mention id or URL would then start a new record in a spreadsheet.
    return ",".join(_csv_field(value) for value in values) + "\n"


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _typed(raw: dict[str, str]) -> Row:
    row: Row = {}
    for name in COLUMNS:
        text = _uncell(raw.get(name, ""))
        if name in DURATIONS:
            row[name] = float(text) if text else None
        elif name in FLAGS:
            row[name] = None if text == "" else text == "true"
        elif name in TIMES or name in _OPTIONAL_TEXTS:
            row[name] = text or None
        else:
            row[name] = text
    return row


def read_export(stream: TextIO, fmt: str) -> list[Row]:
    """Rows written by ``write_export``, with their types (None, float, bool) restored."""
    if fmt == "csv":
        return [_typed(raw) for raw in csv.DictReader(stream)]
    return [json.loads(line) for line in stream if line.strip()]
