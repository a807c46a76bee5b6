"""The public answer on every surface's case card: what it shows and which buttons it offers.

A case card tells whether the customer was answered in public (the first public response:
when, who, how, the link), how each reply sent from triagebot fared (sending, sent, failed,
maybe posted), whether the case waits on the customer or its post was deleted, and the drafts
waiting for a manager. ``AnswerView`` computes that once from the case and ``Answering``;
Slack, Teams and the board each draw it with their own escaping. The presses go to
``triagebot.runtime.answering.Answering``: ``answering_of`` gives one even when no source can
reply (then only "Mark answered" and "Close: post deleted" do anything).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from integrations.common.payload import PAYLOAD_VERSION, BadPayload, CasePayload, parse_payload
from triagebot.cases.answers import FirstResponse, PublicReply, ReplyState, ResponseVia
from triagebot.cases.identities import Identity
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import Case
from triagebot.runtime.answering import Answering
from triagebot.runtime.wiring import Runtime

#: Replies (not drafts) a card lists, newest last; drafts it shows with their buttons.
SHOWN_REPLIES = 3
SHOWN_DRAFTS = 3
#: Characters of a reply's text quoted on a card.
QUOTED = 280
_REPLY_ID = re.compile(r"^[0-9a-f]{32}$")


class AnswerAction(StrEnum):
    """The buttons of the public answer (Slack action ids, Teams verbs, board routes)."""

    REPLY = "case-reply"
    OPEN_POST = "case-open-post"  # a link to the customer's post (Slack still reports the press)
    ANSWERED = "case-answered"
    APPROVE = "case-draft-approve"
    EDIT = "case-draft-edit"
    DISCARD = "case-draft-discard"
    CLOSE_DELETED = "case-close-deleted"


#: How a reply's state reads on a card.
STATE_WORDS = {
    ReplyState.DRAFT: "draft, waiting for a manager",
    ReplyState.SENDING: "sending…",
    ReplyState.SENT: "sent",
    ReplyState.FAILED: "failed",
    ReplyState.UNCERTAIN: "may have been posted: checking the thread",
    ReplyState.DISCARDED: "discarded",
}
VIA_WORDS = {
    ResponseVia.REPLY: "replied from triagebot",
    ResponseVia.THREAD: "answered in the thread",
    ResponseVia.MARKED: "marked answered",
}


def reply_value(case: Case, reply: PublicReply) -> str:
    """A draft button's value: the case payload plus the draft's id."""
    data = {"v": PAYLOAD_VERSION, "case": case.id, "ver": case.version, "reply": reply.id}
    return json.dumps(data, separators=(",", ":"))


def parse_reply_value(value: object) -> tuple[CasePayload, str]:
    """The case and the draft a draft button names; ``BadPayload`` for anything else."""
    payload = parse_payload(value)
    data = json.loads(value) if isinstance(value, str) else value
    reply_id = data.get("reply") if isinstance(data, dict) else None
    if not isinstance(reply_id, str) or not _REPLY_ID.match(reply_id):
        raise BadPayload("this button names no draft reply")
    return payload, reply_id


def answering_of(runtime: Runtime) -> Answering:
    """The runtime's ``Answering``, or one with no source (nothing can be sent through it:
    marking answered, discarding drafts and closing deleted posts still work)."""
    if runtime.answering is not None:
        return runtime.answering
    return Answering(runtime.store, runtime.settings, {}, None, runtime.clock)


def reply_check(runtime: Runtime) -> Callable[[Case], bool]:
    """``can_reply`` for renderers, read at each drawing (the answering may be set later)."""

    def can_reply(case: Case) -> bool:
        answering = runtime.answering
        return answering is not None and answering.can_reply(case)

    return can_reply


def never(case: Case) -> bool:
    return False


def clean_url(value: str) -> str | None:
    """The link typed for "Mark answered": None when empty; ``ValueError`` unless http(s)."""
    text = value.strip()
    if not text:
        return None
    link = safe_http_url(text)
    if link is None or len(link) > 2000:
        raise ValueError("the link to the answer must be an http(s) address (or leave it empty)")
    return link


def responder_identity(first: FirstResponse) -> Identity | None:
    """The person who gave the first public response; None when it was a brand account's post
    (``first.by`` is then the handle as the platform wrote it)."""
    if first.via is ResponseVia.THREAD:
        return None
    try:
        return Identity.parse(first.by)
    except ValueError:
        return None


def responder(first: FirstResponse, name_of: Callable[[Identity], str]) -> str:
    """Who gave the first public response, in words (unescaped): a person's name, or the
    brand account's handle as the platform wrote it."""
    who = responder_identity(first)
    return name_of(who) if who is not None else "@" + first.by.lstrip("@")


@dataclass(frozen=True)
class AnswerView:
    """The answer part of a case card, before any escaping."""

    case: Case
    can_reply: bool
    first: FirstResponse | None
    replies: tuple[PublicReply, ...]  # the newest few that are not drafts, oldest first
    drafts: tuple[PublicReply, ...]
    waiting_since: datetime | None
    gone_at: datetime | None
    post_url: str | None

    @classmethod
    def of(cls, case: Case, can_reply: bool) -> AnswerView:
        sent = tuple(
            r for r in case.replies if r.state not in (ReplyState.DRAFT, ReplyState.DISCARDED)
        )
        drafts = case.drafts if case.is_active else ()  # a closed case is reopened first
        return cls(
            case=case,
            can_reply=can_reply and case.is_active,
            first=case.first_response,
            replies=sent[-SHOWN_REPLIES:],
            drafts=drafts[:SHOWN_DRAFTS],
            waiting_since=case.waiting_since if case.is_waiting_on_customer else None,
            gone_at=case.gone_at,
            post_url=safe_http_url(case.mention.url),
        )

    @property
    def offers_reply(self) -> bool:
        """Reply, unless a reply is still being sent or settled (the core would refuse)."""
        return self.can_reply and self.case.reply_in_flight is None

    @property
    def offers_answered(self) -> bool:
        """Where triagebot cannot post: open the post, answer there, mark it answered."""
        return self.case.is_active and not self.can_reply

    @property
    def offers_close_deleted(self) -> bool:
        return self.gone_at is not None and self.case.is_active

    @property
    def has_news(self) -> bool:
        """Anything to say about the answer at all (else the card stays as it was)."""
        return bool(self.first or self.replies or self.waiting_since or self.gone_at)


def quoted(text: str, limit: int = QUOTED) -> str:
    """A reply's text cut for a card (unescaped: each surface escapes it)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
