"""What the team's actions say about routing: one label per case a person acted on.

Only people count, never triagebot itself (the system actor, the pipeline, delivery, the SLA
watcher) and never the public text alone. For one case, the last reassignment or spam mark by a
person decides: a reassignment labels the case with the department it was handed to, a spam
mark with ``none`` (no department owns the post); both are *corrections*. A case a person
resolved without any such correction *confirms* the department it was in, a weaker label.
A case moved back to the fallback queue (``triage``) or resolved there says nothing about
its department and gives no label.

The label is compared with where triage sent the case at ingest (``routed_at_ingest``, read
from the ingest event): its first department, or ``none`` when it was marked spam.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from triagebot.cases.identities import SYSTEM_SURFACES, VOUCHING_SURFACES
from triagebot.cases.records import FALLBACK_DEPARTMENT, Case, CaseEvent
from triagebot.cases.suggestions import MODEL
from triagebot.store.base import Store

#: What a post that no department owns is labelled (the model's ``none``).
NONE = "none"
REASSIGN, SPAM, RESOLVE, INGEST = "reassign", "spam", "resolve", "ingest"
LABEL_ACTIONS = (REASSIGN, SPAM, RESOLVE)


class LabelKind(StrEnum):
    CORRECTION = "correction"  # a person reassigned the case or marked it as spam
    CONFIRMATION = "confirmation"  # a person resolved it where it was


@dataclass(frozen=True)
class Label:
    """Where a person said a case belongs, and where triage had sent it."""

    case_id: str
    text: str
    department: str
    kind: LabelKind
    at: datetime
    routed: str
    ingested_at: datetime
    #: The rules that routed the case at ingest.
    rules: tuple[str, ...] = ()

    @property
    def hit(self) -> bool:
        return self.routed == self.department


def is_staff(event: CaseEvent) -> bool:
    """An action a person took on a surface that vouches for them."""
    return (
        not event.actor.is_system
        and event.surface in VOUCHING_SURFACES
        and event.surface not in SYSTEM_SURFACES
    )


def routed_at_ingest(case: Case, events: Iterable[CaseEvent] = ()) -> str:
    """The department triage gave the case when it was stored; ``none`` for ingest spam.

    Read from the ingest event; a case without one (copied from an older store) falls back to
    its first assignment, closed the moment it opened when the case was spam at ingest.
    """
    for event in events:
        if event.action == INGEST:
            if event.after.get("state") == "spam":
                return NONE
            return str(event.after.get("department") or case.department)
    if not case.assignments:
        return case.department
    first = case.assignments[0]
    closed_at_once = first.until is not None and first.until == first.since == case.ingested_at
    reassigned_at_once = len(case.assignments) > 1 and case.assignments[1].since == first.since
    return NONE if closed_at_once and not reassigned_at_once else first.department


def routed_by(
    case: Case, events: Iterable[CaseEvent] = (), fallback: str = FALLBACK_DEPARTMENT
) -> str:
    """How the case was routed at ingest: ``model``, ``rules``, ``spam`` or ``fallback``."""
    routed = routed_at_ingest(case, events)
    if routed == NONE:
        return "spam"
    if routed == fallback:
        return "fallback"
    return "model" if any(r.startswith(MODEL) for r in case.rules) else "rules"


def label_of(
    case: Case, events: Iterable[CaseEvent], fallback: str = FALLBACK_DEPARTMENT
) -> Label | None:
    """The label the staff's actions in ``events`` (the case's trail) give it, or None."""
    trail = list(events)
    staff = sorted((e for e in trail if is_staff(e)), key=lambda e: e.at)
    corrections = [e for e in staff if e.action in (REASSIGN, SPAM)]
    if corrections:
        last = corrections[-1]
        department = NONE if last.action == SPAM else str(last.after.get("department") or "")
        kind = LabelKind.CORRECTION
    else:
        resolves = [e for e in staff if e.action == RESOLVE]
        if not resolves:
            return None
        last = resolves[-1]
        department = str(last.after.get("department") or case.department)
        kind = LabelKind.CONFIRMATION
    if not department or department == fallback:
        return None
    return Label(
        case.id,
        case.mention.text,
        department,
        kind,
        last.at,
        routed_at_ingest(case, trail),
        case.ingested_at,
        case.rules,
    )


def read_labels(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    known: Iterable[str] | None = None,
    fallback: str = FALLBACK_DEPARTMENT,
) -> list[Label]:
    """The labels of the staff's actions in ``[since, until)``, oldest first.

    ``known`` keeps only labels of these departments (and ``none``): a department the
    deployment no longer has teaches the model nothing it may use.
    """
    wanted = None if known is None else set(known) | {NONE}
    found: list[Label] = []
    for case, events in store.acted_cases(LABEL_ACTIONS, since=since, until=until):
        label = label_of(case, events, fallback)
        if label is not None and (wanted is None or label.department in wanted):
            found.append(label)
    found.sort(key=lambda label: (label.at, label.case_id))
    return found
