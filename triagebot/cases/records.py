"""Domain records: Mention, Case, CaseEvent, OutboxItem, MessageRef, Routing.

Records are frozen dataclasses; a change produces a new record (``dataclasses.replace``).
``to_dict``/``from_dict`` give the JSON shape both stores keep: datetimes as ISO 8601 UTC strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from triagebot.cases.answers import FirstResponse, PublicReply, ReplyState
from triagebot.cases.identities import Identity, read_optional, read_stored
from triagebot.cases.time_fields import iso, parse_iso
from triagebot.cases.time_fields import req_iso as _req_iso

JSON = dict[str, Any]

#: Id of the department that takes posts no rule claims; it always exists.
FALLBACK_DEPARTMENT = "triage"


class CaseState(StrEnum):
    """Where a case is in its lifecycle."""

    NEW = "new"  # stored, not yet on any surface
    OPEN = "open"  # shown on a surface, nobody owns it
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    SPAM = "spam"

    @property
    def is_closed(self) -> bool:
        return self in (CaseState.RESOLVED, CaseState.SPAM)


ACTIVE_STATES = frozenset({CaseState.NEW, CaseState.OPEN, CaseState.CLAIMED})


class Priority(StrEnum):
    """P1 is the most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


def _text(identity: Identity | None) -> str | None:
    return None if identity is None else str(identity)


@dataclass(frozen=True)
class Author:
    handle: str
    name: str | None = None
    followers: int | None = None

    def to_dict(self) -> JSON:
        return {"handle": self.handle, "name": self.name, "followers": self.followers}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Author:
        return cls(handle=data["handle"], name=data.get("name"), followers=data.get("followers"))


@dataclass(frozen=True)
class Mention:
    """One public post. ``id`` is ``"<source name>:<external id>"``."""

    id: str
    source: str
    kind: str
    url: str
    author: Author
    text: str
    created_at: datetime
    lang: str | None = None
    raw: JSON = field(default_factory=dict, compare=False)

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "source": self.source,
            "kind": self.kind,
            "url": self.url,
            "author": self.author.to_dict(),
            "text": self.text,
            "created_at": iso(self.created_at),
            "lang": self.lang,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Mention:
        return cls(
            id=data["id"],
            source=data["source"],
            kind=data["kind"],
            url=data["url"],
            author=Author.from_dict(data["author"]),
            text=data["text"],
            created_at=_req_iso(data["created_at"]),
            lang=data.get("lang"),
            raw=dict(data.get("raw") or {}),
        )


@dataclass(frozen=True)
class Routing:
    """What triage decided for a mention."""

    department: str
    priority: Priority
    cc: tuple[str, ...] = ()
    spam: bool = False
    rules: tuple[str, ...] = ()

    def to_dict(self) -> JSON:
        return {
            "department": self.department,
            "cc": list(self.cc),
            "priority": self.priority.value,
            "spam": self.spam,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class Assignment:
    """A stretch of time a department held the case (``until`` is None while it still does)."""

    department: str
    since: datetime
    until: datetime | None = None

    def to_dict(self) -> JSON:
        return {"department": self.department, "since": iso(self.since), "until": iso(self.until)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignment:
        return cls(data["department"], _req_iso(data["since"]), parse_iso(data.get("until")))


@dataclass(frozen=True)
class Case:
    """One mention being handled. ``version`` grows by one on every change."""

    id: str
    mention: Mention
    department: str
    priority: Priority
    state: CaseState
    ingested_at: datetime
    claim_due: datetime
    resolve_due: datetime
    cc: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    version: int = 1
    claimed_by: Identity | None = None
    claimed_at: datetime | None = None
    first_claimed_at: datetime | None = None
    resolved_by: Identity | None = None
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    assignments: tuple[Assignment, ...] = ()
    also_on: tuple[str, ...] = ()  # URLs where the same post was seen too (cross-posts)
    #: SLA steps already sent for this case ("<department>:<target>:<level>"), see watcher.py.
    sla_marks: tuple[str, ...] = ()
    #: The first public response is due (business time from ingest); None on older cases.
    respond_due: datetime | None = None
    first_response: FirstResponse | None = None
    replies: tuple[PublicReply, ...] = ()
    #: The brand answered and the customer has not replied since: the resolve clock pauses.
    waiting_since: datetime | None = None
    #: Newest post of the customer's public thread already recorded on the case.
    thread_seen_at: datetime | None = None
    #: When the source showed the customer's post deleted.
    gone_at: datetime | None = None
    #: Why a closed case was closed, when not simply resolved ("deleted": the post went).
    closed_as: str | None = None

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_waiting_on_customer(self) -> bool:
        return self.waiting_since is not None and self.is_active

    def reply(self, reply_id: str) -> PublicReply | None:
        return next((r for r in self.replies if r.id == reply_id), None)

    @property
    def reply_in_flight(self) -> PublicReply | None:
        """A reply being sent or not yet settled: no other reply starts until it is."""
        return next((r for r in self.replies if r.state.is_open), None)

    @property
    def drafts(self) -> tuple[PublicReply, ...]:
        return tuple(r for r in self.replies if r.state is ReplyState.DRAFT)

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "mention": self.mention.to_dict(),
            "department": self.department,
            "priority": self.priority.value,
            "state": self.state.value,
            "ingested_at": iso(self.ingested_at),
            "claim_due": iso(self.claim_due),
            "resolve_due": iso(self.resolve_due),
            "cc": list(self.cc),
            "rules": list(self.rules),
            "version": self.version,
            "claimed_by": _text(self.claimed_by),
            "claimed_at": iso(self.claimed_at),
            "first_claimed_at": iso(self.first_claimed_at),
            "resolved_by": _text(self.resolved_by),
            "resolved_at": iso(self.resolved_at),
            "updated_at": iso(self.updated_at),
            "assignments": [a.to_dict() for a in self.assignments],
            "also_on": list(self.also_on),
            "sla_marks": list(self.sla_marks),
            **self._answer_fields(),
        }

    def _answer_fields(self) -> JSON:
        """The public-answer fields, written only when set (older stores never had them)."""
        data: JSON = {}
        if self.respond_due is not None:
            data["respond_due"] = iso(self.respond_due)
        if self.first_response is not None:
            data["first_response"] = self.first_response.to_dict()
        if self.replies:
            data["replies"] = [r.to_dict() for r in self.replies]
        for name in ("waiting_since", "thread_seen_at", "gone_at"):
            value = getattr(self, name)
            if value is not None:
                data[name] = iso(value)
        if self.closed_as is not None:
            data["closed_as"] = self.closed_as
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        return cls(
            id=data["id"],
            mention=Mention.from_dict(data["mention"]),
            department=data["department"],
            priority=Priority(data["priority"]),
            state=CaseState(data["state"]),
            ingested_at=_req_iso(data["ingested_at"]),
            claim_due=_req_iso(data["claim_due"]),
            resolve_due=_req_iso(data["resolve_due"]),
            cc=tuple(data.get("cc") or ()),
            rules=tuple(data.get("rules") or ()),
            version=int(data["version"]),
            claimed_by=read_optional(data.get("claimed_by")),
            claimed_at=parse_iso(data.get("claimed_at")),
            first_claimed_at=parse_iso(data.get("first_claimed_at")),
            resolved_by=read_optional(data.get("resolved_by")),
            resolved_at=parse_iso(data.get("resolved_at")),
            updated_at=parse_iso(data.get("updated_at")),
            assignments=tuple(Assignment.from_dict(a) for a in data.get("assignments") or ()),
            also_on=tuple(data.get("also_on") or ()),
            sla_marks=tuple(data.get("sla_marks") or ()),
            respond_due=parse_iso(data.get("respond_due")),
            first_response=(
                FirstResponse.from_dict(data["first_response"])
                if data.get("first_response")
                else None
            ),
            replies=tuple(PublicReply.from_dict(r) for r in data.get("replies") or ()),
            waiting_since=parse_iso(data.get("waiting_since")),
            thread_seen_at=parse_iso(data.get("thread_seen_at")),
            gone_at=parse_iso(data.get("gone_at")),
            closed_as=data.get("closed_as"),
        )


@dataclass(frozen=True)
class CaseEvent:
    """One change of a case: who did what, where, when, and the fields before and after."""

    case_id: str
    action: str
    actor: Identity
    surface: str
    at: datetime
    version: int
    before: JSON = field(default_factory=dict)
    after: JSON = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> JSON:
        return {
            "case_id": self.case_id,
            "action": self.action,
            "actor": str(self.actor),
            "surface": self.surface,
            "at": iso(self.at),
            "version": self.version,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseEvent:
        return cls(
            case_id=data["case_id"],
            action=data["action"],
            actor=read_stored(data["actor"], data["surface"]),
            surface=data["surface"],
            at=_req_iso(data["at"]),
            version=int(data["version"]),
            before=dict(data.get("before") or {}),
            after=dict(data.get("after") or {}),
            note=data.get("note"),
        )


class OutboxKind(StrEnum):
    POST = "post"  # show a new case on every surface (or on ``OutboxItem.surface``)
    UPDATE = "update"  # re-render the case where it is shown
    REPLY = "reply"  # a thread note under the case's message
    ESCALATE = "escalate"  # a post about the case in the escalation channel


@dataclass(frozen=True)
class OutboxItem:
    """Work for the delivery worker. ``done`` lists the surfaces already served.

    ``surface`` names the one surface the item is for (None: every surface that shows the
    case); whoever queues such an item has checked that the surface can show the case.
    """

    id: str
    case_id: str
    kind: OutboxKind
    created_at: datetime
    text: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    done: tuple[str, ...] = ()
    surface: str | None = None

    def to_dict(self) -> JSON:
        data: JSON = {
            "id": self.id,
            "case_id": self.case_id,
            "kind": self.kind.value,
            "created_at": iso(self.created_at),
            "text": self.text,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "last_error": self.last_error,
            "done": list(self.done),
        }
        if self.surface is not None:  # items for every surface keep their earlier shape
            data["surface"] = self.surface
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutboxItem:
        return cls(
            id=data["id"],
            case_id=data["case_id"],
            kind=OutboxKind(data["kind"]),
            created_at=_req_iso(data["created_at"]),
            text=data.get("text"),
            attempts=int(data.get("attempts", 0)),
            next_attempt_at=parse_iso(data.get("next_attempt_at")),
            last_error=data.get("last_error"),
            done=tuple(data.get("done") or ()),
            surface=data.get("surface"),
        )


@dataclass(frozen=True)
class MessageRef:
    """Where a surface shows a case: enough to update it or reply in its thread."""

    surface: str
    channel: str
    message_id: str
    extra: JSON = field(default_factory=dict)

    def to_dict(self) -> JSON:
        return {
            "surface": self.surface,
            "channel": self.channel,
            "message_id": self.message_id,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessageRef:
        return cls(
            data["surface"], data["channel"], data["message_id"], dict(data.get("extra") or {})
        )


@dataclass(frozen=True)
class NewCase:
    """A case with its first events and outbox items, stored in one atomic step."""

    case: Case
    events: tuple[CaseEvent, ...] = ()
    outbox: tuple[OutboxItem, ...] = ()
