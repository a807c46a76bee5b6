"""What the board shows, computed from cases (pure: no HTML here, the templates escape).

``Filters`` come from the query string so links are shareable; ``columns`` groups the cases by
department, most urgent first; ``clock`` gives each SLA target its due time, the time at which
its reminder is due and its state (ok, nearing, breached) for the countdown in the browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from integrations.common.answers import (
    STATE_WORDS,
    VIA_WORDS,
    AnswerView,
    never,
    quoted,
    responder,
)
from integrations.common.suggested import Offer, offers
from triagebot.cases.answers import PublicReply, ReplyState
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import ACTIVE_STATES, Case, CaseState
from triagebot.config.settings import Settings
from triagebot.durations import format_seconds
from triagebot.runtime.console import safe_text
from triagebot.sla.clocks import progress

MAX_TEXT = 600
PER_COLUMN = 50  # cards drawn per department on the whole board; the rest are counted
PER_DEPARTMENT = 500  # … and when the board is filtered to one department
#: The buttons: action, label, the states a case must be in to show it.
ACTIONS = (
    ("claim", "Claim", frozenset({CaseState.NEW, CaseState.OPEN})),
    ("unclaim", "Unclaim", frozenset({CaseState.CLAIMED})),
    ("resolve", "Resolve", ACTIVE_STATES),
    ("spam", "Spam", ACTIVE_STATES),
    ("reopen", "Reopen", frozenset({CaseState.RESOLVED, CaseState.SPAM})),
)
STATES = ("active", "open", "claimed", "resolved", "spam")
_STATE_SETS = {
    "active": ACTIVE_STATES,
    "open": frozenset({CaseState.NEW, CaseState.OPEN}),
    "claimed": frozenset({CaseState.CLAIMED}),
    "resolved": frozenset({CaseState.RESOLVED}),
    "spam": frozenset({CaseState.SPAM}),
}
_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


@dataclass(frozen=True)
class Filters:
    department: str = ""
    state: str = "active"
    source: str = ""

    @classmethod
    def parse(cls, query: Mapping[str, str], settings: Settings) -> Filters:
        """Unknown values fall back to "all" rather than failing."""
        department = query.get("department", "")
        state = query.get("state", "active")
        return cls(
            department if department in settings.departments else "",
            state if state in STATES else "active",
            query.get("source", "")[:80],
        )

    @property
    def states(self) -> frozenset[CaseState]:
        return _STATE_SETS[self.state]

    def query(self) -> str:
        """The query string giving these filters ("" for the defaults)."""
        pairs = {"department": self.department, "state": self.state, "source": self.source}
        kept = {k: v for k, v in pairs.items() if v and not (k == "state" and v == "active")}
        return urlencode(kept)


@dataclass(frozen=True)
class Segment:
    """A piece of post text: plain text, or an http(s) link."""

    text: str
    href: str | None = None


def segments(text: str) -> list[Segment]:
    """Split untrusted text into text and http(s) links (anything else stays text)."""
    flat = safe_text(text, MAX_TEXT)
    result: list[Segment] = []
    last = 0
    for match in _LINK.finditer(flat):
        url = match.group(0).rstrip(".,);:!?")
        href = safe_http_url(url)
        if href is None:
            continue
        if match.start() > last:
            result.append(Segment(flat[last : match.start()]))
        result.append(Segment(url, href))
        last = match.start() + len(url)
    if last < len(flat):
        result.append(Segment(flat[last:]))
    return result


@dataclass(frozen=True)
class Clock:
    """One SLA target of a case as the browser counts it down."""

    target: str  # "claim" or "resolve"
    due: datetime
    remind_at: datetime
    status: str  # "ok", "nearing", "breached"
    left: str  # "12m left", "3m over"


@dataclass(frozen=True)
class ReplyRow:
    """One reply as a card lists it (the template escapes every string)."""

    id: str
    by: str
    state: str  # the ReplyState value, for the CSS class
    words: str
    text: str
    full_text: str  # a draft's whole text, for the edit form
    url: str | None
    error: str | None
    at: datetime


@dataclass(frozen=True)
class Answer:
    """The public answer of a case as the board shows it."""

    view: AnswerView
    first_by: str = ""
    first_via: str = ""
    first_url: str | None = None
    replies: list[ReplyRow] = field(default_factory=list)
    drafts: list[ReplyRow] = field(default_factory=list)


@dataclass(frozen=True)
class Card:
    case: Case
    age: str
    text: list[Segment]
    url: str | None
    clocks: list[Clock]
    offers: list[Offer] = field(default_factory=list)  # suggested departments (triage only)
    holder: str = ""  # who holds the case, named as [[people]] names them
    answer: Answer | None = None


@dataclass
class Column:
    """A department's cases: waiting ones first, then claimed ones (or the closed ones)."""

    id: str
    name: str
    groups: list[tuple[str, list[Card]]] = field(default_factory=list)
    total: int = 0
    hidden: int = 0


def clocks(case: Case, settings: Settings, now: datetime) -> list[Clock]:
    """The running SLA targets of an active case (claim until first claimed; resolve)."""
    if case.state not in ACTIVE_STATES:
        return []
    calendar = settings.calendar_for(case.department)
    fraction = settings.sla_policy(case.priority, case.department).reminder_at
    targets = [("resolve", case.resolve_due)]
    if case.first_claimed_at is None:
        targets.insert(0, ("claim", case.claim_due))
    result = []
    for target, due in targets:
        span = calendar.elapsed(case.ingested_at, due) if due > case.ingested_at else timedelta(0)
        remind_at = calendar.add(case.ingested_at, span * fraction) if span else due
        used = progress(calendar, case.ingested_at, due, now)
        status = "breached" if now >= due else "nearing" if used >= fraction else "ok"
        seconds = (due - now).total_seconds()
        left = (
            f"{format_seconds(seconds)} left" if seconds > 0 else f"{format_seconds(-seconds)} over"
        )
        result.append(Clock(target, due, remind_at, status, left))
    return result


def _row(reply: PublicReply, settings: Settings) -> ReplyRow:
    when = reply.sent_at if reply.state is ReplyState.SENT and reply.sent_at else reply.created_at
    return ReplyRow(
        reply.id, settings.people.name_of(reply.by), reply.state.value, STATE_WORDS[reply.state],
        safe_text(quoted(reply.text, MAX_TEXT), MAX_TEXT), reply.text, safe_http_url(reply.url),
        safe_text(reply.error, 300) if reply.error else None, when,
    )  # fmt: skip


def answer(case: Case, settings: Settings, can_reply: bool) -> Answer:
    """What the card says about the public answer, with names as [[people]] give them."""
    view = AnswerView.of(case, can_reply)
    first = view.first
    return Answer(
        view,
        safe_text(responder(first, settings.people.name_of), 80) if first else "",
        VIA_WORDS[first.via] if first else "",
        safe_http_url(first.url) if first else None,
        [_row(r, settings) for r in view.replies],
        [_row(r, settings) for r in view.drafts],
    )


def card(
    case: Case, settings: Settings, now: datetime, can_reply: Callable[[Case], bool] = never
) -> Card:
    age = format_seconds(max(0.0, (now - case.ingested_at).total_seconds()))
    names = {d: c.display_name for d, c in settings.departments.items()}
    holder = settings.people.name_of(case.claimed_by) if case.claimed_by else ""
    return Card(
        case, age, segments(case.mention.text), safe_http_url(case.mention.url),
        clocks(case, settings, now), offers(case, names), holder,
        answer(case, settings, can_reply(case)),
    )  # fmt: skip


def _urgency(case: Case) -> tuple[datetime, str]:
    due = case.claim_due if case.first_claimed_at is None else case.resolve_due
    return (min(due, case.resolve_due), case.id)


def columns(
    cases: Iterable[Case],
    settings: Settings,
    filters: Filters,
    now: datetime,
    can_reply: Callable[[Case], bool] = never,
) -> list[Column]:
    """One column per department (or only the filtered one), most urgent case first."""
    wanted = [filters.department] if filters.department else list(settings.departments)
    result = {d: Column(d, settings.departments[d].display_name) for d in wanted}
    grouped: dict[str, list[Case]] = {d: [] for d in wanted}
    for case in cases:
        if case.department in grouped and (
            not filters.source or case.mention.source == filters.source
        ):
            grouped[case.department].append(case)
    limit = PER_DEPARTMENT if filters.department else PER_COLUMN
    for department, items in grouped.items():
        items.sort(key=_urgency)
        column = result[department]
        column.total, column.hidden = len(items), max(0, len(items) - limit)
        shown = [card(c, settings, now, can_reply) for c in items[:limit]]
        for label, states in _GROUPS:
            cards = [c for c in shown if c.case.state in states]
            if cards or (label in ("Waiting", "Claimed") and filters.state == "active"):
                column.groups.append((label, cards))
    return list(result.values())


_GROUPS = (
    ("Waiting", frozenset({CaseState.NEW, CaseState.OPEN})),
    ("Claimed", frozenset({CaseState.CLAIMED})),
    ("Resolved", frozenset({CaseState.RESOLVED})),
    ("Spam", frozenset({CaseState.SPAM})),
)
