"""Public replies from Slack, Teams, the board or the CLI: who may reply, drafts, sending.

The attempt is recorded before anything is sent: ``request_reply`` saves the reply as
``sending`` (or as a ``draft`` awaiting a manager), and only then does ``deliver_reply`` call
the source. Its answer is recorded in a second compare-and-set. A process that dies between
the two leaves the reply ``sending``; it is settled by reading the thread
(``settle_from_thread``), never by sending it again, so no reply is ever posted twice.

Who may reply: the case's holder or a manager (claim first, like resolve), while the case is
active (a resolved case is reopened first). With
``[replies] approval = "managers"`` a reply from anyone but a manager is kept as a draft that
a manager approves (as written or edited) or discards.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from triagebot.actions.executor import outbox_item
from triagebot.actions.public import PublicThreads, ReplyFailed, ReplyUnknown
from triagebot.cases.answers import (
    MAX_REPLIES,
    MAX_REPLY_TEXT,
    FirstResponse,
    PublicReply,
    ReplyState,
    ResponseVia,
    ThreadPost,
    same_reply,
)
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.lifecycle import LifecyclePolicy
from triagebot.cases.links import safe_http_url
from triagebot.cases.note_mentions import inert_text, mention_user
from triagebot.cases.records import Case, CaseEvent, CaseState, OutboxItem, OutboxKind
from triagebot.errors import InputError, NotAllowed, VersionConflict
from triagebot.lanes import in_background
from triagebot.store.base import Store

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

APPROVAL_NONE = "none"
APPROVAL_MANAGERS = "managers"
#: A reply left ``sending`` this long (its process died) or ``uncertain`` is settled from the
#: thread: platforms index a new reply within seconds to a few minutes.
SETTLE_AFTER = timedelta(minutes=10)
_ATTEMPTS = 5
#: How much of a reply a thread note quotes.
_QUOTE = 300

Change = Callable[[Case], tuple[Case, CaseEvent, list[OutboxItem]] | None]


@dataclass(frozen=True)
class ReplyStarted:
    """A reply recorded on the case: ``sending`` (deliver it now) or a ``draft``."""

    case: Case
    reply: PublicReply

    @property
    def needs_sending(self) -> bool:
        return self.reply.state is ReplyState.SENDING


def save_change(store: Store, case_id: str, change: Change) -> Case | None:
    """Apply ``change`` to the fresh case with compare-and-set, retrying lost races.

    ``change`` returns the new case (one version ahead), its event and outbox items, or None
    when there is nothing to do; its errors pass through unchanged.
    """
    for _ in range(_ATTEMPTS):
        case = store.get_case(case_id)
        result = change(case)
        if result is None:
            return None
        changed, event, outbox = result
        try:
            store.save_case(changed, case.version, [event], outbox)
        except VersionConflict:
            continue
        return changed
    raise VersionConflict(f"case #{case_id} keeps changing; try again")


def _event(case: Case, action: str, actor: Identity, surface: str, now: datetime) -> CaseEvent:
    return CaseEvent(
        case_id=case.id, action=action, actor=actor, surface=surface, at=now,
        version=case.version + 1,
    )  # fmt: skip


def _bump(case: Case, now: datetime, **changes: object) -> Case:
    return replace(case, version=case.version + 1, updated_at=now, **changes)  # type: ignore[arg-type]


def _with_reply(case: Case, reply: PublicReply) -> tuple[PublicReply, ...]:
    """The case's replies with ``reply`` replacing the one with its id, or added (the oldest
    failed or discarded ones give way past ``MAX_REPLIES``)."""
    if case.reply(reply.id) is not None:
        return tuple(reply if r.id == reply.id else r for r in case.replies)
    kept = list(case.replies)
    while len(kept) >= MAX_REPLIES:
        old = next((r for r in kept if r.state in (ReplyState.FAILED, ReplyState.DISCARDED)), None)
        if old is None:
            raise NotAllowed(f"case #{case.id} already has {MAX_REPLIES} replies")
        kept.remove(old)
    return (*kept, reply)


def _shown(case_id: str, now: datetime, note: str) -> list[OutboxItem]:
    """Redraw the case's card and post ``note`` under its message."""
    return [
        outbox_item(case_id, OutboxKind.UPDATE, now),
        outbox_item(case_id, OutboxKind.REPLY, now, note),
    ]


def _started(store: Store, case_id: str, reply_id: str, change: Change) -> ReplyStarted:
    """Save ``change`` (which records reply ``reply_id``) and return the case and the reply."""
    case = save_change(store, case_id, change)
    assert case is not None
    reply = case.reply(reply_id)
    assert reply is not None
    return ReplyStarted(case, reply)


_CONTROL: dict[int, None] = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]
)
_CONTROL.update(dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def clean_reply_text(text: str, problem: Callable[[str], str | None] | None = None) -> str:
    """The reply as it will be sent (control characters removed, ends trimmed), or
    ``InputError`` saying what is wrong with it, in words for the replier."""
    cleaned = text.translate(_CONTROL).strip()
    if not cleaned:
        raise InputError("write the reply first: it is empty")
    if len(cleaned) > MAX_REPLY_TEXT:
        raise InputError(f"the reply is {len(cleaned):,} characters; at most {MAX_REPLY_TEXT:,}")
    reason = problem(cleaned) if problem is not None else None
    if reason:
        raise InputError(reason)
    return cleaned


def _quote(text: str) -> str:
    short = text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "…"
    return inert_text(short)


def open_for_reply(case: Case) -> None:
    """Raise ``NotAllowed`` unless ``case`` is active: a resolved case (or spam) is reopened
    before anyone answers it in public, as the cards offer no Reply on it (its thread is read
    only ``follow_closed_for``, too short to settle a reply sent much later)."""
    if case.state is CaseState.SPAM:
        raise NotAllowed(f"case #{case.id} is marked as spam: reopen it before replying")
    if not case.is_active:
        raise NotAllowed(f"case #{case.id} is {case.state.value}: reopen it before replying")


def may_reply(case: Case, actor: Identity, policy: LifecyclePolicy) -> None:
    """Raise ``NotAllowed`` unless ``actor`` may answer ``case`` in public now."""
    open_for_reply(case)
    if policy.is_manager(actor):
        return
    holder = case.claimed_by
    if holder is None:
        raise NotAllowed(f"claim case #{case.id} before replying")
    if not policy.same_person(holder, actor):
        raise NotAllowed(
            f"case #{case.id} is claimed by {policy.name_of(holder)}: "
            "only they or a manager may reply"
        )


def request_reply(
    store: Store,
    policy: LifecyclePolicy,
    *,
    case_id: str,
    actor: Identity,
    surface: str,
    text: str,
    now: datetime,
    approval: str = APPROVAL_NONE,
    problem: Callable[[str], str | None] | None = None,
) -> ReplyStarted:
    """Record a reply: ``sending`` (the caller delivers it) or a draft for a manager."""
    body = clean_reply_text(text, problem)
    reply_id = uuid.uuid4().hex
    draft = approval == APPROVAL_MANAGERS and not policy.is_manager(actor)

    def change(case: Case) -> tuple[Case, CaseEvent, list[OutboxItem]]:
        may_reply(case, actor, policy)
        if not draft and case.reply_in_flight is not None:
            raise NotAllowed(f"a reply to case #{case.id} is still being sent; wait for it")
        state = ReplyState.DRAFT if draft else ReplyState.SENDING
        reply = PublicReply(reply_id, body, actor, state, now)
        changed = _bump(case, now, replies=_with_reply(case, reply))
        event = replace(
            _event(case, "reply_drafted" if draft else "reply_started", actor, surface, now),
            after={"reply": reply_id, "state": state.value},
            note=body,
        )
        outbox = [outbox_item(case.id, OutboxKind.UPDATE, now)]
        if draft:
            note = (
                f"draft reply by {mention_user(actor)} waits for a manager's approval: "
                f"“{_quote(body)}”"
            )
            outbox.append(outbox_item(case.id, OutboxKind.REPLY, now, note))
        return changed, event, outbox

    return _started(store, case_id, reply_id, change)


def approve_draft(
    store: Store,
    policy: LifecyclePolicy,
    *,
    case_id: str,
    reply_id: str,
    actor: Identity,
    surface: str,
    now: datetime,
    text: str | None = None,
    problem: Callable[[str], str | None] | None = None,
) -> ReplyStarted:
    """A manager approves a draft (``text``: as edited) and it becomes ``sending``."""
    if not policy.is_manager(actor):
        raise NotAllowed("only a manager may approve a draft reply")
    body = clean_reply_text(text, problem) if text is not None else None

    def change(case: Case) -> tuple[Case, CaseEvent, list[OutboxItem]]:
        draft = case.reply(reply_id)
        if draft is None or draft.state is not ReplyState.DRAFT:
            raise NotAllowed(f"that draft reply to case #{case.id} is no longer waiting")
        open_for_reply(case)
        if case.reply_in_flight is not None:
            raise NotAllowed(f"a reply to case #{case.id} is still being sent; wait for it")
        final = body if body is not None else clean_reply_text(draft.text, problem)
        sent = replace(
            draft,
            text=final,
            state=ReplyState.SENDING,
            approved_by=actor,
            created_at=now,
        )
        changed = _bump(case, now, replies=_with_reply(case, sent))
        event = replace(
            _event(case, "reply_approved", actor, surface, now),
            after={"reply": reply_id, "edited": body is not None},
            note=sent.text,
        )
        return changed, event, [outbox_item(case.id, OutboxKind.UPDATE, now)]

    return _started(store, case_id, reply_id, change)


def discard_draft(
    store: Store,
    policy: LifecyclePolicy,
    *,
    case_id: str,
    reply_id: str,
    actor: Identity,
    surface: str,
    now: datetime,
) -> Case:
    """A manager, or the draft's author, discards a draft."""

    def change(case: Case) -> tuple[Case, CaseEvent, list[OutboxItem]]:
        draft = case.reply(reply_id)
        if draft is None or draft.state is not ReplyState.DRAFT:
            raise NotAllowed(f"that draft reply to case #{case.id} is no longer waiting")
        if not (policy.is_manager(actor) or policy.same_person(draft.by, actor)):
            raise NotAllowed("only a manager or the draft's author may discard it")
        gone = replace(draft, state=ReplyState.DISCARDED)
        changed = _bump(case, now, replies=_with_reply(case, gone))
        event = replace(
            _event(case, "reply_discarded", actor, surface, now), after={"reply": reply_id}
        )
        note = f"draft reply by {mention_user(draft.by)} discarded by {mention_user(actor)}"
        return changed, event, _shown(case.id, now, note)

    case = save_change(store, case_id, change)
    assert case is not None
    return case


def answered(case: Case, response: FirstResponse) -> Case:
    """``case`` with ``response`` as its first public response (kept if it has one), waiting
    on the customer from then on while it is active (a wait already under way keeps its
    start, so no paused time is lost). No version bump."""
    first = case.first_response or response
    waiting = case.waiting_since  # already waiting: the wait began at the earlier answer
    if case.is_active and waiting is None:
        waiting = response.at
    return replace(case, first_response=first, waiting_since=waiting)


def _sent(
    case: Case, reply: PublicReply, external_id: str, url: str | None, now: datetime
) -> tuple[Case, CaseEvent, list[OutboxItem]]:
    safe = safe_http_url(url)
    done = replace(
        reply, state=ReplyState.SENT, sent_at=now, external_id=external_id, url=safe, error=None
    )
    first = FirstResponse(now, str(reply.by), ResponseVia.REPLY, safe)
    changed = _bump(answered(case, first), now, replies=_with_reply(case, done))
    event = replace(
        _event(case, "reply", reply.by, "public", now),
        after={"reply": reply.id, "external_id": external_id, "url": safe},
        note=reply.text,
    )
    where = f" {inert_text(safe)}" if safe else ""  # the platform's link: no mention token
    note = f"public reply by {mention_user(reply.by)} posted{where}: “{_quote(reply.text)}”"
    return changed, event, _shown(case.id, now, note)


def _unsent(
    case: Case, reply: PublicReply, state: ReplyState, reason: str, now: datetime
) -> tuple[Case, CaseEvent, list[OutboxItem]]:
    failed = replace(reply, state=state, error=reason[:500])
    changed = _bump(case, now, replies=_with_reply(case, failed))
    action = "reply_failed" if state is ReplyState.FAILED else "reply_uncertain"
    event = replace(
        _event(case, action, SYSTEM, "public", now),
        after={"reply": reply.id},
        note=reason[:500],
    )
    if state is ReplyState.FAILED:
        note = f"reply by {mention_user(reply.by)} was not posted: {inert_text(reason[:300])}"
    else:
        note = (
            f"reply by {mention_user(reply.by)} may have been posted ({inert_text(reason[:200])}); "
            "triagebot checks the thread and will not send it again"
        )
    return changed, event, _shown(case.id, now, note)


def _record(
    store: Store,
    case_id: str,
    reply_id: str,
    build: Callable[[Case, PublicReply], tuple[Case, CaseEvent, list[OutboxItem]]],
) -> Case | None:
    def change(case: Case) -> tuple[Case, CaseEvent, list[OutboxItem]] | None:
        reply = case.reply(reply_id)
        if reply is None or not reply.state.is_open:
            return None  # settled meanwhile (a thread check found it)
        return build(case, reply)

    return save_change(store, case_id, change)


async def deliver_reply(
    store: Store,
    source: PublicThreads,
    http: httpx.AsyncClient,
    *,
    case_id: str,
    reply_id: str,
    clock: Callable[[], datetime],
) -> Case | None:
    """Send a ``sending`` reply through its source and record the answer (the store is
    used off the event loop).

    Returns the case as recorded (None if the reply was no longer ``sending``). Never sends a
    reply twice: a reply is sent only from ``sending``, and its outcome moves it on.
    """
    case = await in_background(store.get_case, case_id)
    reply = case.reply(reply_id)
    if reply is None or reply.state is not ReplyState.SENDING:
        return None
    try:
        sent = await source.reply(http, case.mention, reply.text, reply.id)
    except ReplyFailed as failure:
        reason = failure.reason
        if failure.retry_after is not None:
            reason += f" (the platform asks to wait {int(failure.retry_after) + 1} s)"
        return await _settle(
            store, case_id, reply_id, state=ReplyState.FAILED, reason=reason, clock=clock
        )
    except ReplyUnknown as unknown:
        return await _settle(
            store, case_id, reply_id, state=ReplyState.UNCERTAIN, reason=unknown.reason, clock=clock
        )
    except Exception as error:  # an adapter bug must not leave the reply looking in flight
        log.exception("case %s: reply through %s failed", case_id, source.name)
        why = f"unexpected {type(error).__name__}"
        return await _settle(
            store, case_id, reply_id, state=ReplyState.UNCERTAIN, reason=why, clock=clock
        )
    return await in_background(
        _record,
        store,
        case_id,
        reply_id,
        lambda c, r: _sent(c, r, sent.external_id, sent.url, clock()),
    )


async def _settle(
    store: Store,
    case_id: str,
    reply_id: str,
    *,
    state: ReplyState,
    reason: str,
    clock: Callable[[], datetime],
) -> Case | None:
    return await in_background(
        _record, store, case_id, reply_id, lambda c, r: _unsent(c, r, state, reason, clock())
    )


def settle_from_thread(
    case: Case, brand_posts: Sequence[ThreadPost], now: datetime
) -> tuple[Case, list[CaseEvent], list[OutboxItem]]:
    """Settle replies left ``sending`` or ``uncertain`` from what the thread shows.

    A brand post with the reply's text, made after the reply was recorded, means it was
    posted: it is recorded as sent. After ``SETTLE_AFTER`` with no such post it was not: it is
    recorded as failed, so the replier can send it again knowingly. Returns the case (not
    version-bumped: the thread check saves once), events and outbox items (empty: nothing
    to settle).
    """
    events: list[CaseEvent] = []
    outbox: list[OutboxItem] = []
    current = case
    for reply in case.replies:
        if not reply.state.is_open:
            continue
        seen = next(
            (
                p
                for p in sorted(brand_posts, key=lambda p: p.created_at)
                if p.created_at >= reply.created_at - timedelta(minutes=2)
                and same_reply(reply.text, p.text)
            ),
            None,
        )
        if seen is not None:
            built = _sent(current, reply, seen.id, seen.url, now)
        elif now - reply.created_at >= SETTLE_AFTER:
            reason = "not found in the public thread: it was not posted; send it again if needed"
            built = _unsent(current, reply, ReplyState.FAILED, reason, now)
        else:
            continue
        changed, event, items = built
        current = replace(changed, version=current.version)  # one bump for the whole check
        events.append(replace(event, version=case.version + 1))
        outbox.extend(items)
    return current, events, outbox


def mark_answered(
    store: Store,
    policy: LifecyclePolicy,
    *,
    case_id: str,
    actor: Identity,
    surface: str,
    now: datetime,
    url: str | None = None,
) -> Case:
    """Someone answered the customer where triagebot cannot post (or by hand): record it as
    the first public response (``url``: the answer's link, http(s) only)."""
    link = safe_http_url(url) if url else None
    if url and link is None:
        raise InputError("the link to the answer must be an http(s) address")

    def change(case: Case) -> tuple[Case, CaseEvent, list[OutboxItem]]:
        may_reply(case, actor, policy)
        first = FirstResponse(now, str(actor), ResponseVia.MARKED, link)
        changed = _bump(answered(case, first), now)
        event = replace(_event(case, "answered", actor, surface, now), after={"url": link})
        where = f": {inert_text(link)}" if link else ""
        note = f"answered in public by {mention_user(actor)}{where}"
        return changed, event, _shown(case.id, now, note)

    case = save_change(store, case_id, change)
    assert case is not None
    return case
