"""Run a lifecycle command against the store: the one path every surface's click takes.

Read the case, apply the command, compare-and-set. When the CAS loses, the command is
re-checked against the fresh case, so two simultaneous claims give one winner and one
"already claimed by …" answer. Each change queues an update of every surface showing the
case and a short thread note.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from triagebot.cases.identities import Identity
from triagebot.cases.lifecycle import Command, LifecyclePolicy, Publish, apply
from triagebot.cases.note_mentions import mention_user
from triagebot.cases.records import Case, CaseEvent, OutboxItem, OutboxKind, Priority
from triagebot.errors import VersionConflict
from triagebot.sla.clocks import due_times, respond_due_time
from triagebot.store.base import CaseChange, Store

if TYPE_CHECKING:
    from triagebot.config.case_rules import CaseRules
    from triagebot.config.quick import QuickSettings
    from triagebot.config.settings import Settings

_MAX_ATTEMPTS = 5


class SettingsPolicy:
    """The lifecycle policy read from the settings (or a quick command's cached rules)."""

    def __init__(self, settings: Settings | QuickSettings) -> None:
        self._settings = settings

    @property
    def _rules(self) -> CaseRules:
        return self._settings.rules

    @property
    def reopen_within(self) -> timedelta:
        return self._rules.reopen_within

    def is_manager(self, actor: Identity) -> bool:
        return self._rules.is_manager(actor)

    def same_person(self, one: Identity, other: Identity) -> bool:
        return self._rules.people.same_person(one, other)

    def name_of(self, actor: Identity) -> str:
        return self._rules.people.name_of(actor)

    def department_exists(self, department: str) -> bool:
        return self._rules.has_department(department)

    def due_times(
        self, priority: Priority, department: str, start: datetime
    ) -> tuple[datetime, datetime]:
        rules = self._rules
        return due_times(
            rules.sla_policy(priority, department), rules.calendar_for(department), start
        )

    def respond_due(self, priority: Priority, department: str, start: datetime) -> datetime:
        rules = self._rules
        policy = rules.sla_policy(priority, department)
        return respond_due_time(policy, rules.calendar_for(department), start)


@dataclass(frozen=True)
class Outcome:
    case: Case
    event: CaseEvent


def outbox_item(
    case_id: str, kind: OutboxKind, now: datetime, text: str | None = None
) -> OutboxItem:
    return OutboxItem(id=uuid.uuid4().hex, case_id=case_id, kind=kind, created_at=now, text=text)


_PAST = {
    "claim": "claimed",
    "unclaim": "released",
    "resolve": "resolved",
    "reopen": "reopened",
    "spam": "marked as spam",
}


def note_for(event: CaseEvent) -> str:
    """The thread note a change leaves under the case's message (the actor as a mention
    token: each surface names the person its own way)."""
    who = mention_user(event.actor)
    if event.action == "reassign":
        before, after = event.before["department"], event.after["department"]
        if event.before.get("state") == "spam":
            return f"not spam: sent to {after} by {who}"
        return f"reassigned from {before} to {after} by {who}"
    return f"{_PAST.get(event.action, event.action)} by {who}"


def change_of(case: Case, command: Command, policy: LifecyclePolicy, now: datetime) -> CaseChange:
    """What ``command`` writes to ``case``: the new record, its event and the outbox items
    (an update of every surface, and a thread note unless it is the first publication);
    raises the lifecycle's errors unchanged."""
    changed, event = apply(case, command, policy, now)
    outbox = [outbox_item(case.id, OutboxKind.UPDATE, now)]
    if not isinstance(command, Publish):
        outbox.append(outbox_item(case.id, OutboxKind.REPLY, now, note_for(event)))
    return CaseChange(changed, case.version, (event,), tuple(outbox))


def execute(store: Store, policy: LifecyclePolicy, command: Command, now: datetime) -> Outcome:
    """Apply ``command`` with compare-and-set; raises the lifecycle's errors unchanged."""
    for _ in range(_MAX_ATTEMPTS):
        change = change_of(store.get_case(command.case_id), command, policy, now)
        try:
            store.save_case(change.case, change.expected_version, change.events, change.outbox)
        except VersionConflict:
            continue
        return Outcome(change.case, change.events[0])
    raise VersionConflict(f"case #{command.case_id} keeps changing; try again")
