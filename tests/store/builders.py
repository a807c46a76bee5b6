"""Small builders of Mention, Case, CaseEvent, OutboxItem and NewCase records for tests."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from triagebot.cases.answers import FirstResponse, ResponseVia
from triagebot.cases.identities import SURFACES, SYSTEM, Identity
from triagebot.cases.records import (
    Author,
    Case,
    CaseEvent,
    CaseState,
    Mention,
    MessageRef,
    NewCase,
    OutboxItem,
    OutboxKind,
    Priority,
)

#: A fixed moment the builders' default times are relative to.
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PEOPLE: list[Identity | None] = [Identity("cli", "ana"), Identity("slack", "U0BO"), None]


def actor_of(who: Identity | str) -> Identity:
    """``who`` as an identity: a qualified ``surface:id`` as written, a bare name as ``cli:``."""
    if isinstance(who, Identity):
        return who
    surface, sep, _ = who.partition(":")
    return Identity.parse(who) if sep and surface in SURFACES else Identity("cli", who)


def make_mention(
    mention_id: str = "x:1",
    *,
    text: str = "My parcel never arrived and nobody answers the phone",
    created_at: datetime = T0,
    handle: str = "jo",
    raw: dict[str, Any] | None = None,
) -> Mention:
    source, _, external = mention_id.partition(":")
    return Mention(
        id=mention_id,
        source=source or "x",
        kind="post",
        url=f"https://example.com/{source}/{external or mention_id}",
        author=Author(handle=handle, name=handle.title(), followers=120),
        text=text,
        created_at=created_at,
        lang="en",
        raw=raw if raw is not None else {"likes": 3},
    )


def make_case(
    case_id: str,
    *,
    mention_id: str | None = None,
    state: CaseState = CaseState.NEW,
    ingested_at: datetime = T0,
    department: str = "support",
    priority: Priority = Priority.P2,
    version: int = 1,
    claimed_by: Identity | str | None = None,
    text: str | None = None,
) -> Case:
    mention = make_mention(mention_id or f"x:{case_id}", created_at=ingested_at)
    return Case(
        id=case_id,
        mention=mention if text is None else replace(mention, text=text),
        department=department,
        priority=priority,
        state=state,
        ingested_at=ingested_at,
        claim_due=ingested_at + timedelta(hours=1),
        resolve_due=ingested_at + timedelta(days=1),
        version=version,
        claimed_by=None if claimed_by is None else actor_of(claimed_by),
        updated_at=ingested_at,
    )


def make_event(
    case: Case,
    action: str = "created",
    *,
    actor: Identity | str = SYSTEM,
    surface: str = "test",
    at: datetime | None = None,
    note: str | None = None,
) -> CaseEvent:
    return CaseEvent(
        case_id=case.id,
        action=action,
        actor=actor_of(actor),
        surface=surface,
        at=at or case.updated_at or T0,
        version=case.version,
        after={"state": case.state.value},
        note=note,
    )


def make_outbox(
    item_id: str,
    case_id: str,
    *,
    kind: OutboxKind = OutboxKind.POST,
    created_at: datetime = T0,
    text: str | None = None,
) -> OutboxItem:
    return OutboxItem(id=item_id, case_id=case_id, kind=kind, created_at=created_at, text=text)


def make_new(case_id: str, **case_args: Any) -> NewCase:
    """A NewCase with a ``created`` event and a POST outbox item named ``post-<id>``."""
    case = make_case(case_id, **case_args)
    return NewCase(case, (make_event(case),), (make_outbox(f"post-{case_id}", case_id),))


def moved(
    case: Case, state: CaseState, *, actor: Identity | str = "ana", at: datetime | None = None
) -> Case:
    """The next version of ``case`` in ``state`` (claimed_by/resolved_by set as fitting; a
    bare ``actor`` name is a ``cli:`` identity)."""
    when = at or (case.updated_at or T0) + timedelta(minutes=1)
    actor = actor_of(actor)
    changes: dict[str, Any] = {"state": state, "version": case.version + 1, "updated_at": when}
    if state is CaseState.CLAIMED:
        changes |= {"claimed_by": actor, "claimed_at": when}
    if state in (CaseState.RESOLVED, CaseState.SPAM):
        changes |= {"resolved_by": actor, "resolved_at": when}
    if state in (CaseState.NEW, CaseState.OPEN):
        changes |= {"claimed_by": None, "claimed_at": None, "resolved_by": None}
    return replace(case, **changes)


def make_ref(surface: str = "slack", message_id: str = "1700000000.000100") -> MessageRef:
    return MessageRef(surface=surface, channel="C0SUPPORT", message_id=message_id, extra={})


def varied_case(rng: random.Random, n: int) -> Case:
    """A case at some stage of its life, with times that have microseconds, and (from a
    random source of its own, so ``rng`` draws as before) its public answer."""
    return _answered(_staged(rng, n), random.Random(n))


def _staged(rng: random.Random, n: int) -> Case:
    at = T0 + timedelta(seconds=rng.randint(0, 12 * 86_400), microseconds=rng.randint(0, 999_999))
    case = make_case(
        str(n),
        mention_id=f"{rng.choice(['x', 'reddit', 'news'])}:{n}",
        ingested_at=at,
        department=rng.choice(["support", "billing", "shipping"]),
        priority=rng.choice(list(Priority)),
        state=CaseState.OPEN,
    )
    posted = at - timedelta(seconds=rng.randint(-120, 9_000), microseconds=rng.randint(0, 999))
    case = replace(
        case,
        mention=replace(case.mention, created_at=posted),
        claim_due=at + timedelta(minutes=rng.randint(0, 600)),
        resolve_due=at + timedelta(hours=rng.randint(1, 90)),
    )
    stage = rng.choice(["open", "new", "claimed", "unclaimed", "resolved", "closed-unclaimed"])
    claimed = at + timedelta(seconds=rng.randint(0, 40_000), microseconds=rng.randint(0, 999))
    done = claimed + timedelta(seconds=rng.randint(0, 200_000))
    who = rng.choice(PEOPLE)
    if stage == "new":
        return replace(case, state=CaseState.NEW)
    if stage == "claimed":
        return replace(
            case,
            state=CaseState.CLAIMED,
            claimed_by=who,
            claimed_at=claimed,
            first_claimed_at=claimed,
        )
    if stage == "unclaimed":
        return replace(case, first_claimed_at=claimed)
    if stage == "resolved":
        return replace(
            case,
            state=CaseState.RESOLVED,
            claimed_by=rng.choice(PEOPLE),
            first_claimed_at=claimed,
            resolved_by=who,
            resolved_at=done,
        )
    if stage == "closed-unclaimed":
        state = rng.choice([CaseState.RESOLVED, CaseState.SPAM])
        return replace(case, state=state, resolved_by=who, resolved_at=done)
    return case


def _answered(case: Case, rng: random.Random) -> Case:
    """Respond due (none on some, as cases ingested before the target), a first public
    response on some, before or after the due time, and a wait on the customer on some."""
    at = case.ingested_at
    if rng.random() < 0.15:
        return case
    due = at + timedelta(minutes=rng.randint(30, 900), microseconds=rng.randint(0, 999_999))
    case = replace(case, respond_due=due)
    if case.state is CaseState.NEW or rng.random() < 0.3:
        return case
    answered = at + timedelta(seconds=rng.randint(-300, 60_000), microseconds=rng.randint(0, 999))
    via = rng.choice(list(ResponseVia))
    first = FirstResponse(answered, rng.choice(["@northwind", "slack:U0ANA"]), via)
    case = replace(case, first_response=first)
    if rng.random() < 0.5:
        case = replace(case, waiting_since=answered + timedelta(seconds=rng.randint(0, 9_000)))
    return case
