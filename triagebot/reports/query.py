"""The ``sla`` chat command, platform-neutral: its words, and the figures that answer them.

Slack's ``/sla`` and the Teams bot's ``sla`` take the same words: a department (id or name),
``breached``, ``me``, a period (``30d``: hours ``h``, days ``d``, weeks ``w``), ``share`` and
``help``; words combine (``shipping 30d``). ``parse_query`` reads them, ``gather`` reads the
store for the answer; each surface renders the ``SlaAnswer`` in its own markup. Error
messages quote the offending word cleaned and cut, but the surface still escapes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from triagebot.cases.identities import Identity
from triagebot.cases.records import ACTIVE_STATES, Case, CaseState
from triagebot.errors import InputError
from triagebot.reports.summary import summary_for
from triagebot.runtime.wiring import Runtime
from triagebot.sla.figures import GroupStats, Summary
from triagebot.sla.status import overdue

DEFAULT_PERIOD = timedelta(days=7)
MAX_PERIOD = timedelta(days=366)
MAX_WORDS = 10
_PERIOD = re.compile(r"^(\d{1,4})([hdw])$")
_UNITS = {"h": 3600, "d": 86_400, "w": 7 * 86_400}
_UNQUOTABLE = re.compile(r"[`\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class SlaQuery:
    """What ``sla`` was asked: one view, an optional department, a period, shared or not."""

    view: str = "summary"  # summary | breached | me | help
    department: str | None = None
    period: timedelta = DEFAULT_PERIOD
    share: bool = False


def quoted(word: str, limit: int = 40) -> str:
    """``word`` for an error message: one line, no backticks or control characters, cut."""
    text = " ".join(_UNQUOTABLE.sub("", word).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_query(text: str, departments: dict[str, str], command: str = "/sla") -> SlaQuery:
    """Read the words after ``sla``; raises ``InputError`` naming the word not understood."""
    view, department, period, share = "summary", None, DEFAULT_PERIOD, False
    by_name = {_key(name): dept for dept, name in departments.items()}
    by_name.update({_key(dept): dept for dept in departments})
    for word in text.split()[:MAX_WORDS]:
        key = _key(word)
        if key in ("help", "breached", "me"):
            view = key
        elif key == "share":
            share = True
        elif match := _PERIOD.match(key):
            period = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
            if not timedelta(hours=1) <= period <= MAX_PERIOD:
                raise InputError(f"`{quoted(word, 20)}`: choose between 1h and 366d")
        elif key in by_name:
            department = by_name[key]
        else:
            known = ", ".join(f"`{d}`" for d in sorted(departments))
            raise InputError(
                f"I don't know `{quoted(word)}`. Departments: {known}. Try `{command} help`."
            )
    return SlaQuery(view, department, period, share)


def _key(word: str) -> str:
    return re.sub(r"[\s_-]+", "-", word.strip().lower().lstrip("#"))


def period_label(period: timedelta) -> str:
    from triagebot.durations import format_seconds  # noqa: PLC0415

    days = period.total_seconds() / 86_400
    return f"last {days:g} days" if days >= 1 else f"last {format_seconds(period.total_seconds())}"


@dataclass(frozen=True)
class SlaAnswer:
    """The figures answering one query; which fields are set depends on ``query.view``."""

    query: SlaQuery
    names: dict[str, str]  # department id -> display name
    now: datetime
    label: str = ""
    summary: Summary | None = None  # summary and me
    late: list[Case] = field(default_factory=list)  # breached, most overdue first
    person: GroupStats | None = None  # me
    holding: list[Case] = field(default_factory=list)  # me


def gather(runtime: Runtime, query: SlaQuery, user: Identity) -> SlaAnswer:
    """Read the store for ``query`` asked by ``user`` (blocking); ``me`` is the person
    ``user`` belongs to, with every identity the people directory joins to it."""
    names = {d: c.display_name for d, c in runtime.settings.departments.items()}
    now = runtime.clock()
    if query.view == "help":
        return SlaAnswer(query, names, now)
    if query.view == "breached":
        active = runtime.store.list_cases(states=ACTIVE_STATES, department=query.department)
        calendar_for = runtime.settings.calendar_for
        ranked: list[tuple[datetime, str, Case]] = []
        for case in active:
            late = overdue(case, now, calendar_for(case.department))
            if late is not None:
                ranked.append((late[1], case.id, case))
        ranked.sort(key=lambda item: item[:2])
        return SlaAnswer(query, names, now, late=[case for _, _, case in ranked])
    label = period_label(query.period)
    if query.department is not None:
        label = f"{names.get(query.department, query.department)}, {label}"
    summary = summary_for(runtime, query.period, query.department)
    if query.view == "me":
        held = runtime.store.list_cases(states=[CaseState.CLAIMED], department=query.department)
        people = runtime.settings.people
        theirs = set(people.identities_of(user))
        mine = [c for c in held if c.claimed_by in theirs]
        person = summary.by_person.get(people.group_key(str(user)))
        return SlaAnswer(query, names, now, label, summary, person=person, holding=mine)
    return SlaAnswer(query, names, now, label, summary)
