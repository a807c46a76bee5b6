"""The case state machine: a command and the current case in, the next case and its event out.

Pure functions: no store, no clock (``now`` is passed in). Illegal moves raise
``IllegalTransition`` (or ``AlreadyClaimed``), forbidden ones ``NotAllowed``; the message is
written to be shown to the person who clicked.

    new ──publish──> open ──claim──> claimed ──resolve──> resolved ──reopen──> open
     │                ^  <──unclaim──  │                               (within a window)
     │                └──reassign──────┘  (to another department: open again, clock keeps running)
     └── spam (from new, open, claimed); reopen brings a spam case back to open

Who may do what (actors are surface-qualified identities; the policy says which belong to one
person and who is a manager):

- claim an open case: anyone;
- unclaim, resolve, reassign or mark as spam a claimed case: its holder or a manager;
- resolve or mark as spam an unclaimed case: anyone (a resolve claims it in the same step, so
  it counts for the resolver: refusing it would only make them press Claim first);
- reopen a resolved case (within ``reopen_within``): who resolved it, who held it, or a
  manager; reopen a spam case: who marked it, or a manager (spam found by the rules or the
  model at ingest: anyone); reassigning a spam case reopens it in the same step, with the same
  check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.records import JSON, Assignment, Case, CaseEvent, CaseState, Priority
from triagebot.durations import format_seconds
from triagebot.errors import AlreadyClaimed, IllegalTransition, NotAllowed

SYSTEM_ACTOR = SYSTEM


class LifecyclePolicy(Protocol):
    """What the state machine needs to know about the organisation."""

    @property
    def reopen_within(self) -> timedelta: ...

    def is_manager(self, actor: Identity) -> bool: ...

    def same_person(self, one: Identity, other: Identity) -> bool:
        """True when both identities are one person's (equal, or joined by the directory)."""
        ...

    def name_of(self, actor: Identity) -> str:
        """How a person is named in the messages the lifecycle writes."""
        ...

    def department_exists(self, department: str) -> bool: ...

    def due_times(
        self, priority: Priority, department: str, start: datetime
    ) -> tuple[datetime, datetime]: ...

    def respond_due(self, priority: Priority, department: str, start: datetime) -> datetime:
        """When the first public response is due (business time from ``start``)."""
        ...


@dataclass(frozen=True)
class Command:
    """Base of every command: which case, who, from which surface."""

    case_id: str
    actor: Identity
    surface: str = "cli"

    @property
    def action(self) -> str:
        return type(self).__name__.lower()


@dataclass(frozen=True)
class Publish(Command):
    """The case is shown on a surface for the first time (new -> open)."""


@dataclass(frozen=True)
class Claim(Command):
    pass


@dataclass(frozen=True)
class Unclaim(Command):
    pass


@dataclass(frozen=True)
class Resolve(Command):
    """``reason``: why, when it is not simply done (``"deleted"``: the customer's post went)."""

    reason: str | None = None


@dataclass(frozen=True)
class Reopen(Command):
    pass


@dataclass(frozen=True)
class Reassign(Command):
    department: str = ""


@dataclass(frozen=True)
class MarkSpam(Command):
    @property
    def action(self) -> str:
        return "spam"


_TRACKED = ("state", "department", "claimed_by", "priority")


def _snapshot(case: Case) -> JSON:
    return {
        name: str(getattr(case, name)) if getattr(case, name) is not None else None
        for name in _TRACKED
    }


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return ""
    return f" {format_seconds(max(0.0, (now - then).total_seconds()))} ago"


def _is(policy: LifecyclePolicy, who: Identity | None, actor: Identity) -> bool:
    return who is not None and policy.same_person(who, actor)


def _require_holder_or_manager(
    case: Case, cmd: Command, policy: LifecyclePolicy, what: str
) -> None:
    holder = case.claimed_by
    if holder is None or _is(policy, holder, cmd.actor) or policy.is_manager(cmd.actor):
        return
    raise NotAllowed(
        f"case #{case.id} is claimed by {policy.name_of(holder)}: "
        f"only they or a manager may {what} it"
    )


def _require_may_reopen(case: Case, cmd: Command, policy: LifecyclePolicy) -> None:
    """A resolved case: its resolver, its holder or a manager; spam: who marked it or a
    manager, and triagebot's own spam verdicts at ingest (rules or model): anyone on the team,
    whose correction the model then learns from. triagebot itself reopens a resolved case when
    its customer writes again in the thread."""
    if policy.is_manager(cmd.actor) or (cmd.actor.is_system and case.state is CaseState.RESOLVED):
        return
    found_at_ingest = case.resolved_by is None or case.resolved_by.is_system
    if case.state is CaseState.SPAM and found_at_ingest and not cmd.actor.is_system:
        return
    allowed: tuple[Identity | None, ...] = (case.resolved_by,)
    if case.state is CaseState.RESOLVED:
        allowed += (case.claimed_by,)
    if any(_is(policy, who, cmd.actor) for who in allowed if who is not None and not who.is_system):
        return
    if case.state is CaseState.SPAM:
        who = (
            "the rules"
            if case.resolved_by is None or case.resolved_by.is_system
            else (policy.name_of(case.resolved_by))
        )
        raise NotAllowed(
            f"case #{case.id} was marked as spam by {who}: only they or a manager may reopen it"
        )
    named = policy.name_of(case.resolved_by) if case.resolved_by is not None else "someone"
    raise NotAllowed(
        f"case #{case.id} was resolved by {named}: only they, its holder or a manager may reopen it"
    )


def _name(policy: LifecyclePolicy, who: Identity | None) -> str:
    return "nobody" if who is None else policy.name_of(who)


def _close_assignment(case: Case, now: datetime) -> tuple[Assignment, ...]:
    return tuple(replace(a, until=now) if a.until is None else a for a in case.assignments)


def _open_assignment(case: Case, now: datetime) -> tuple[Assignment, ...]:
    if case.assignments and case.assignments[-1].until is None:
        return case.assignments
    return (*case.assignments, Assignment(case.department, now))


def _transition(case: Case, cmd: Command, policy: LifecyclePolicy, now: datetime) -> Case:
    state = case.state
    if isinstance(cmd, Publish):
        if state is not CaseState.NEW:
            raise IllegalTransition(f"case #{case.id} is already {state}")
        return replace(case, state=CaseState.OPEN)
    if isinstance(cmd, Claim):
        if state is CaseState.CLAIMED:
            holder = case.claimed_by
            who = "you" if _is(policy, holder, cmd.actor) else _name(policy, holder)
            raise AlreadyClaimed(
                f"case #{case.id} is already claimed by {who}{_ago(now, case.claimed_at)}"
            )
        if state not in (CaseState.NEW, CaseState.OPEN):
            raise IllegalTransition(f"case #{case.id} is {state}: reopen it before claiming")
        return replace(
            case,
            state=CaseState.CLAIMED,
            claimed_by=cmd.actor,
            claimed_at=now,
            first_claimed_at=case.first_claimed_at or now,
        )
    if isinstance(cmd, Unclaim):
        if state is not CaseState.CLAIMED:
            raise IllegalTransition(f"case #{case.id} is {state}, not claimed")
        _require_holder_or_manager(case, cmd, policy, "unclaim")
        return replace(case, state=CaseState.OPEN, claimed_by=None, claimed_at=None)
    if isinstance(cmd, Resolve):
        if state not in (CaseState.NEW, CaseState.OPEN, CaseState.CLAIMED):
            raise IllegalTransition(
                f"case #{case.id} is already {state}{_ago(now, case.resolved_at)}"
            )
        _require_holder_or_manager(case, cmd, policy, "resolve")
        return replace(
            case,
            state=CaseState.RESOLVED,
            claimed_by=case.claimed_by or cmd.actor,
            claimed_at=case.claimed_at or now,
            first_claimed_at=case.first_claimed_at or now,
            resolved_by=cmd.actor,
            resolved_at=now,
            assignments=_close_assignment(case, now),
            closed_as=cmd.reason,
        )
    if isinstance(cmd, Reopen):
        return _reopen(case, cmd, policy, now)
    if isinstance(cmd, Reassign):
        return _reassign(case, cmd, policy, now)
    if isinstance(cmd, MarkSpam):
        if state.is_closed:
            raise IllegalTransition(f"case #{case.id} is already {state}")
        _require_holder_or_manager(case, cmd, policy, "mark as spam")
        return replace(
            case,
            state=CaseState.SPAM,
            resolved_by=cmd.actor,
            resolved_at=now,
            assignments=_close_assignment(case, now),
        )
    raise IllegalTransition(f"unknown command {cmd.action!r}")


def _reopen(case: Case, cmd: Command, policy: LifecyclePolicy, now: datetime) -> Case:
    if not case.state.is_closed:
        raise IllegalTransition(f"case #{case.id} is {case.state}, not resolved")
    closed_at = case.resolved_at or now
    if case.state is CaseState.RESOLVED and now - closed_at > policy.reopen_within:
        window = format_seconds(policy.reopen_within.total_seconds())
        raise NotAllowed(
            f"case #{case.id} was resolved{_ago(now, closed_at)}; "
            f"cases can be reopened within {window}"
        )
    _require_may_reopen(case, cmd, policy)
    reopened = replace(
        case,
        state=CaseState.OPEN,
        claimed_by=None,
        claimed_at=None,
        resolved_by=None,
        resolved_at=None,
        closed_as=None,
    )
    return replace(reopened, assignments=_open_assignment(reopened, now))


def _reassign(case: Case, cmd: Reassign, policy: LifecyclePolicy, now: datetime) -> Case:
    if case.state is CaseState.SPAM:  # "not spam: it is billing's", in one step
        case = _reopen(case, cmd, policy, now)
        if cmd.department == case.department and policy.department_exists(cmd.department):
            return case  # marked as spam where it belonged: reopened there
    if case.state.is_closed:
        raise IllegalTransition(f"case #{case.id} is {case.state}: reopen it before reassigning")
    if not policy.department_exists(cmd.department):
        raise IllegalTransition(f"there is no department {cmd.department!r}")
    if cmd.department == case.department:
        raise IllegalTransition(f"case #{case.id} is already with {case.department}")
    _require_holder_or_manager(case, cmd, policy, "reassign")
    # The customer's clock keeps running: due times are counted from the original ingest,
    # in the new department's calendar.
    claim_due, resolve_due = policy.due_times(case.priority, cmd.department, case.ingested_at)
    moved = replace(
        case,
        state=CaseState.OPEN if case.state is CaseState.CLAIMED else case.state,
        department=cmd.department,
        cc=tuple(d for d in case.cc if d != cmd.department),
        claimed_by=None,
        claimed_at=None,
        claim_due=claim_due,
        resolve_due=resolve_due,
        respond_due=policy.respond_due(case.priority, cmd.department, case.ingested_at),
        assignments=_close_assignment(case, now),
    )
    return replace(moved, assignments=(*moved.assignments, Assignment(cmd.department, now)))


def apply(
    case: Case, cmd: Command, policy: LifecyclePolicy, now: datetime
) -> tuple[Case, CaseEvent]:
    """Check ``cmd`` against ``case`` and return the changed case and the event recording it."""
    changed = _transition(case, cmd, policy, now)
    changed = replace(changed, version=case.version + 1, updated_at=now)
    event = CaseEvent(
        case_id=case.id,
        action=cmd.action,
        actor=cmd.actor,
        surface=cmd.surface,
        at=now,
        version=changed.version,
        before=_snapshot(case),
        after=_snapshot(changed),
    )
    return changed, event
