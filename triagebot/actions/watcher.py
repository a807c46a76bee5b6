"""The SLA watcher: notes, reminders and escalations before and at a breach; idle claims released.

Every pass reads the active cases and walks each target that is still running (claim until the
first claim, respond until the first public response, resolve until the case is closed) up a
ladder measured in the department's
business time: at ``note_at`` (default 50%) a thread note to the claimer, or to the
department's channel while nobody holds the case; at the policy's ``reminder_at`` a thread note
mentioning the department's on-call group; at the due time a post to the escalation channel
naming the department's manager. Only the highest step reached is sent, once: what was sent is
kept on the case (``Case.sla_marks``, ``"<department>:<target>:<step>"``) and saved with the
outbox items in one compare-and-set, so a restart or a second process never repeats a step.
Nothing is sent while the department is closed (a few minutes' grace after the close lets a
target due at the close be escalated that day); a step reached overnight goes out when it opens.
Reassignment starts the ladder again for the new department (its marks are its own);
unclaiming does not restart the claim target, which is met by the first claim; closed cases are
not watched, and a reopened case keeps the marks it had. A claimed case with no public answer
stays on the respond ladder (its texts say what is missing); a case without ``respond_due``
(ingested before the target existed) is not. While the case waits on the customer
(``Case.waiting_since``) the resolve clock is paused and its ladder does not climb; when the
customer replies the resolve due time is pushed by the wait (``sla.clocks.resumed_resolve_due``)
and the ladder goes on from there. A claim with no change for
``idle_release`` of business time goes back to the queue with a note. Mentions in the texts are
tokens a surface renders its own way (``triagebot.cases.note_mentions``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from triagebot.actions.executor import SettingsPolicy, outbox_item
from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import SYSTEM_ACTOR, Unclaim, apply
from triagebot.cases.note_mentions import mention_oncall, mention_user
from triagebot.cases.records import (
    ACTIVE_STATES,
    Case,
    CaseEvent,
    CaseState,
    OutboxItem,
    OutboxKind,
)
from triagebot.config.settings import DepartmentConfig, Settings
from triagebot.durations import format_seconds
from triagebot.errors import CaseNotFound, VersionConflict
from triagebot.lanes import in_background
from triagebot.sla.calendar import BusinessCalendar
from triagebot.store.base import Store

log = logging.getLogger(__name__)

SURFACE = "watcher"
STEPS = ("note", "remind", "breach")
_MAX_ATTEMPTS = 3
#: A department counts as open this long after it closes, so a target due at the close (a
#: common due time: business time ends there) is still escalated the same day.
CLOSING_GRACE = timedelta(minutes=5)
#: Cases measured together (one calendar lookup per instant); a listed case is decoded when
#: first measured, so the chunks bound how many decoded cases a pass holds at once.
MEASURE_CHUNK = 2_000


def _local(calendar: BusinessCalendar, at: datetime) -> str:
    return at.astimezone(calendar.tz).strftime("%a %H:%M %Z")


@dataclass(frozen=True)
class Plan:
    """What one pass does to one case: the changed record, its events and outbox items."""

    case: Case
    events: tuple[CaseEvent, ...]
    outbox: tuple[OutboxItem, ...]


class _SystemPolicy(SettingsPolicy):
    """The lifecycle policy, with the watcher allowed to release anyone's claim."""

    def is_manager(self, actor: Identity) -> bool:
        return actor == SYSTEM_ACTOR or super().is_manager(actor)


def _manager(settings: Settings, dept: DepartmentConfig) -> Identity | None:
    """Who a breach names: the department's ``manager``, else the first manager listed."""
    people = settings.people
    if dept.manager:
        return people.reference(dept.manager)
    listed = next((p for p in people.persons if p.manager), None)
    if listed is not None:
        return listed.identities[0]
    names = settings.config.managers.names
    return Identity("cli", names[0]) if names else None


class _Department:
    """One department's calendar, ladder settings and (per pass) whether it is open."""

    def __init__(self, settings: Settings, dept: DepartmentConfig) -> None:
        sla = settings.config.sla
        self.config = dept
        self.calendar = settings.calendar_for(dept.id)
        self.note_at = dept.note_at or sla.note_at
        self.idle_release = dept.idle_release or sla.idle_release
        self.manager = _manager(settings, dept)
        self.has_oncall = bool(dept.oncall_slack_group or dept.oncall_teams)


class SlaWatcher:
    """Runs the ladder over the active cases; ``run_once(now)`` is one pass."""

    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.policy = _SystemPolicy(settings)
        self._departments = {d: _Department(settings, c) for d, c in settings.departments.items()}
        self._reminder: dict[tuple[str, str], float] = {}
        #: case id -> (version, instant before which nothing can be due): a pass skips the
        #: cases that have not changed and are not due yet without any calendar arithmetic.
        self._quiet: dict[str, tuple[int, datetime]] = {}

    async def run(self) -> int:
        """One pass in a worker thread (the scheduler's job)."""
        return await in_background(self.run_once, self.clock())

    def run_once(self, now: datetime) -> int:
        """Check every active case; returns how many cases were changed."""
        groups: dict[str, list[Case]] = {}
        quiet, self._quiet = self._quiet, {}
        for case in self.store.list_cases(states=ACTIVE_STATES):
            known = quiet.get(case.id)
            if known is not None and known[0] == case.version and now < known[1]:
                self._quiet[case.id] = known
                continue
            groups.setdefault(self._dept(case.department).config.id, []).append(case)
        changed = 0
        for dept_id in list(groups):
            cases = groups.pop(dept_id)
            dept = self._departments[dept_id]
            if not self.is_working(dept.calendar, now):
                continue
            while cases:  # a chunk at a time: a case decoded to be measured is freed after
                chunk, cases[:MEASURE_CHUNK] = cases[:MEASURE_CHUNK], []
                for case, clocks in zip(chunk, _measure(dept, chunk, now), strict=True):
                    if self.plan(case, now, clocks) is None:
                        self._quiet[case.id] = (case.version, self._wake(case, dept, clocks))
                    elif self._save(case.id, now):
                        changed += 1
        return changed

    def _wake(self, case: Case, dept: _Department, clocks: _Clocks) -> datetime:
        """The earliest instant a step or the idle release could be due (wall clock)."""
        wakes = [datetime.max.replace(tzinfo=UTC)]
        thresholds = (dept.note_at, self._reminder_at(case), 1.0)
        running = []
        if case.waiting_since is None:
            running.append(("resolve", clocks.resolve, clocks.resolve_total))
        if case.first_claimed_at is None:
            running.append(("claim", clocks.claim, clocks.claim_total))
        if _awaits_answer(case):
            running.append(("respond", clocks.respond, clocks.respond_total))
        for name, used, total in running:
            if f"{dept.config.id}:{name}:breach" in case.sla_marks:
                continue
            upcoming = [at for at in thresholds if at > used]
            if upcoming and total > 0:
                amount = timedelta(seconds=min(upcoming) * total)
                wakes.append(dept.calendar.add(case.ingested_at, amount))
        if dept.idle_release is not None and case.state is CaseState.CLAIMED:
            wakes.append(dept.calendar.add(_last_change(case), dept.idle_release))
        return min(wakes)

    @staticmethod
    def is_working(calendar: BusinessCalendar, now: datetime) -> bool:
        """True in business hours and for ``CLOSING_GRACE`` after each close."""
        return calendar.is_open(now) or calendar.elapsed(now - CLOSING_GRACE, now) > timedelta(0)

    def _dept(self, department: str) -> _Department:
        return self._departments.get(department) or self._departments["triage"]

    def _save(self, case_id: str, now: datetime) -> bool:
        """Plan against the stored case and compare-and-set; re-plan when someone else won."""
        for _ in range(_MAX_ATTEMPTS):
            try:
                case = self.store.get_case(case_id)
            except CaseNotFound:
                return False
            plan = self.plan(case, now)
            if plan is None:
                return False
            try:
                self.store.save_case(plan.case, case.version, plan.events, plan.outbox)
            except VersionConflict:
                continue
            log.info("sla watcher: case=%s %s", case_id, ",".join(e.action for e in plan.events))
            return True
        log.warning("sla watcher: case=%s kept changing; next pass tries again", case_id)
        return False

    # --- the ladder ------------------------------------------------------------------------
    def plan(self, case: Case, now: datetime, clocks: _Clocks | None = None) -> Plan | None:
        """The steps due for ``case`` at ``now`` (None: nothing to do). Pure: nothing is saved."""
        if case.state not in ACTIVE_STATES:
            return None
        dept = self._dept(case.department)
        if clocks is None:
            [clocks] = _measure(dept, [case], now)
        steps: list[tuple[str, str]] = []
        marks = list(case.sla_marks)
        if case.first_claimed_at is None:
            steps += self._climb(case, dept, now, ("claim", case.claim_due, clocks.claim), marks)
        if case.respond_due is not None and case.first_response is None:
            due = case.respond_due
            steps += self._climb(case, dept, now, ("respond", due, clocks.respond), marks)
        if case.waiting_since is None:  # waiting on the customer: the resolve clock pauses
            due = case.resolve_due
            steps += self._climb(case, dept, now, ("resolve", due, clocks.resolve), marks)
        released = self._release(case, dept, now, clocks.idle)
        if not steps and released is None:
            return None
        base = released[0] if released else case
        version = case.version + 1
        changed = replace(base, version=version, sla_marks=tuple(marks))
        events: list[CaseEvent] = []
        outbox: list[OutboxItem] = []
        for mark, text in steps:
            step = mark.rsplit(":", 1)[1]
            kind = OutboxKind.ESCALATE if step == "breach" else OutboxKind.REPLY
            outbox.append(outbox_item(case.id, kind, now, text))
            events.append(
                CaseEvent(
                    case.id, f"sla-{step}", SYSTEM_ACTOR, SURFACE, now, version,
                    after={"mark": mark}, note=text,
                )
            )  # fmt: skip
        if released is not None:
            events.append(replace(released[1], version=version, note=released[2]))
            outbox.append(outbox_item(case.id, OutboxKind.UPDATE, now))
            outbox.append(outbox_item(case.id, OutboxKind.REPLY, now, released[2]))
        return Plan(changed, tuple(events), tuple(outbox))

    def _reminder_at(self, case: Case) -> float:
        key = (case.priority.value, case.department)
        value = self._reminder.get(key)
        if value is None:
            value = self.settings.sla_policy(case.priority, case.department).reminder_at
            self._reminder[key] = value
        return value

    def _climb(
        self,
        case: Case,
        dept: _Department,
        now: datetime,
        target: tuple[str, datetime, float],
        marks: list[str],
    ) -> list[tuple[str, str]]:
        """The highest step reached, if not sent yet, as [(mark, text)]; marks every step passed."""
        name, due, used = target
        prefix = f"{dept.config.id}:{name}:"
        if prefix + "breach" in marks:
            return []
        thresholds = (dept.note_at, self._reminder_at(case), 1.0)
        reached = [step for step, at in zip(STEPS, thresholds, strict=True) if used >= at]
        if not reached or prefix + reached[-1] in marks:
            return []
        for step in reached:
            if prefix + step not in marks:
                marks.append(prefix + step)
        return [(prefix + reached[-1], self._text(case, dept, now, (name, due), reached[-1]))]

    def _text(
        self, case: Case, dept: _Department, now: datetime, target: tuple[str, datetime], step: str
    ) -> str:
        name, due = target
        when = _local(dept.calendar, due)
        holder = mention_user(case.claimed_by) if case.claimed_by else None
        if step == "breach":
            manager = mention_user(dept.manager) if dept.manager else "no manager configured"
            held = f", held by {holder}" if holder else ", nobody holds it"
            return (
                f"SLA breach: case #{case.id} ({dept.config.display_name}, {case.priority}) "
                f"{_BREACHED[name]} by {when}{held} — manager: {manager}"
            )
        left = format_seconds(dept.calendar.elapsed(now, due).total_seconds())
        missing = "no public answer yet: " if name == "respond" else ""
        if step == "remind":
            who = mention_oncall(dept.config.id) if dept.has_oncall else holder
            suffix = f" — {who}" if who else ""
            return f"reminder: {missing}{name} due in {left} of business time ({when}){suffix}"
        if holder and name != "claim":
            return f"{holder}: {missing}half-way to the {name} target; due in {left} ({when})"
        return f"nobody holds this case yet: {missing}{name} due in {left} ({when})"

    def _release(
        self, case: Case, dept: _Department, now: datetime, idle: float
    ) -> tuple[Case, CaseEvent, str] | None:
        """Give an idle claim back to the queue: (changed case, unclaim event, note)."""
        if dept.idle_release is None or case.state is not CaseState.CLAIMED:
            return None
        if idle < dept.idle_release.total_seconds():
            return None
        changed, event = apply(case, Unclaim(case.id, SYSTEM_ACTOR, SURFACE), self.policy, now)
        holder = mention_user(case.claimed_by) if case.claimed_by else "its holder"
        span = format_seconds(dept.idle_release.total_seconds())
        return changed, event, f"released back to the queue: no change from {holder} for {span}"


class _Clocks(NamedTuple):
    """Progress of a case's targets (1.0: due), business seconds since its last change, and
    the business seconds from ingest to each due time (respond: 0 without ``respond_due``)."""

    claim: float
    resolve: float
    idle: float
    claim_total: float
    resolve_total: float
    respond: float
    respond_total: float


#: What a breach post says did not happen, per target.
_BREACHED = {
    "claim": "was not claimed",
    "respond": "had no public answer",
    "resolve": "was not resolved",
}


def _awaits_answer(case: Case) -> bool:
    """The respond target runs: the case has one and no public answer yet."""
    return case.respond_due is not None and case.first_response is None


def _share(start: float, due: float, now: float) -> float:
    total = due - start
    if total <= 0:  # the same rule as sla.progress
        return 1.0 if now >= due else 0.0
    return max(0.0, now - start) / total


def _last_change(case: Case) -> datetime:
    """When the case last changed: every lifecycle change sets ``updated_at``."""
    last = case.updated_at or case.ingested_at
    return case.claimed_at if case.claimed_at is not None and case.claimed_at > last else last


def _measure(dept: _Department, cases: list[Case], now: datetime) -> list[_Clocks]:
    """The clocks of many cases of one department with one calendar lookup per instant."""
    instants = [now]
    for case in cases:
        answer_due = case.respond_due or case.ingested_at
        instants += (
            case.ingested_at, case.claim_due, case.resolve_due, _last_change(case), answer_due,
        )  # fmt: skip
    offsets = dept.calendar.offsets(instants)
    at = offsets[0]
    result = []
    for i, case in zip(range(1, len(offsets), 5), cases, strict=True):
        start, claim_due, resolve_due, last, respond_due = offsets[i : i + 5]
        respond = _share(start, respond_due, at) if case.respond_due is not None else 0.0
        result.append(
            _Clocks(
                _share(start, claim_due, at),
                _share(start, resolve_due, at),
                max(0.0, at - last),
                claim_due - start,
                resolve_due - start,
                respond,
                respond_due - start,
            )
        )
    return result


def watch_every() -> timedelta:
    """How often the scheduler runs a pass."""
    return timedelta(seconds=60)
