"""The public answer to a case: replies sent from triagebot, the first public response, and
what the customer's thread shows.

A ``PublicReply`` is recorded on the case *before* it is sent (state ``sending``), so a crash
between sending and recording never leads to a second public post: a reply left ``sending`` or
``uncertain`` is settled by reading the thread, never by sending again. ``FirstResponse`` is the
brand's first public answer, whoever gave it and from wherever (a reply sent from triagebot, a
brand reply seen in the thread, or a person marking the case answered).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from triagebot.cases.identities import Identity, read_optional, read_stored
from triagebot.cases.time_fields import iso, parse_iso, req_iso

JSON = dict[str, Any]

#: How many replies one case keeps (drafts, failures and sent ones together).
MAX_REPLIES = 20
#: Longest reply text accepted anywhere (platforms have lower limits of their own).
MAX_REPLY_TEXT = 10_000


class ReplyState(StrEnum):
    DRAFT = "draft"  # waiting for a manager's approval
    SENDING = "sending"  # recorded, being sent (or the process stopped while sending)
    SENT = "sent"
    FAILED = "failed"  # the platform refused it: nothing was posted
    UNCERTAIN = "uncertain"  # may have been posted: settled by reading the thread
    DISCARDED = "discarded"

    @property
    def is_open(self) -> bool:
        """A reply still in flight: another reply to the case waits for it."""
        return self in (ReplyState.SENDING, ReplyState.UNCERTAIN)


class ResponseVia(StrEnum):
    REPLY = "reply"  # sent from triagebot
    THREAD = "thread"  # a brand account's reply seen in the customer's thread
    MARKED = "marked"  # someone said it was answered elsewhere


@dataclass(frozen=True)
class PublicReply:
    """One public reply to the customer's post, from its draft to its public id."""

    id: str  # also the idempotency key sent to platforms that take one
    text: str
    by: Identity
    state: ReplyState
    created_at: datetime
    sent_at: datetime | None = None
    external_id: str | None = None
    url: str | None = None
    error: str | None = None
    approved_by: Identity | None = None

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "text": self.text,
            "by": str(self.by),
            "state": self.state.value,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "external_id": self.external_id,
            "url": self.url,
            "error": self.error,
            "approved_by": None if self.approved_by is None else str(self.approved_by),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublicReply:
        return cls(
            id=data["id"],
            text=data["text"],
            by=read_stored(data["by"]),
            state=ReplyState(data["state"]),
            created_at=req_iso(data["created_at"]),
            sent_at=parse_iso(data.get("sent_at")),
            external_id=data.get("external_id"),
            url=data.get("url"),
            error=data.get("error"),
            approved_by=read_optional(data.get("approved_by")),
        )


@dataclass(frozen=True)
class FirstResponse:
    """The brand's first public answer: when, by whom (a handle or a person), where."""

    at: datetime
    by: str
    via: ResponseVia
    url: str | None = None

    def to_dict(self) -> JSON:
        return {"at": iso(self.at), "by": self.by, "via": self.via.value, "url": self.url}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FirstResponse:
        return cls(req_iso(data["at"]), data["by"], ResponseVia(data["via"]), data.get("url"))


@dataclass(frozen=True)
class ThreadPost:
    """A post in the public thread under a customer's post, as a source reads it.

    ``author`` is the platform handle as the platform writes it (a leading ``@`` is ignored);
    ``in_reply_to`` the external id of the post it answers when the platform says (None: the
    thread's root or unknown). ``by_brand`` is True when the platform itself marks the post as
    the brand's (a developer response, a Page's comment); otherwise the core compares
    ``author`` with the brand's handles.
    """

    id: str
    author: str
    text: str
    created_at: datetime
    url: str | None = None
    in_reply_to: str | None = None
    by_brand: bool = False


def normalized_text(text: str) -> str:
    """Text compared for "is this our reply?": NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def same_reply(sent_text: str, seen_text: str) -> bool:
    """True when a post seen in the thread is the reply we sent (platforms may prepend the
    customer's @handle, as Mastodon and X do, or trim trailing space)."""
    ours, theirs = normalized_text(sent_text), normalized_text(seen_text)
    if not ours or not theirs:
        return False
    return theirs == ours or theirs.endswith(ours) or ours.endswith(theirs)
