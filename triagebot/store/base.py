"""The Store contract that every store (TinyDB, PostgreSQL) fulfils.

Every method is synchronous and safe to call from several threads and several processes.
A state change of a case is one compare-and-set on its version: ``save_case`` writes the
new record, its events and its outbox items together, or raises ``VersionConflict`` and
writes nothing. The contract test suite in ``tests/store/`` runs against every store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from triagebot.cases.facts import SlaFacts
from triagebot.cases.records import Case, CaseEvent, CaseState, MessageRef, NewCase, OutboxItem


def check_next_version(case: Case, expected_version: int) -> None:
    """``save_case``'s precondition: the new record is exactly one version ahead."""
    if case.version != expected_version + 1:
        raise ValueError(
            f"case {case.id}: version {case.version} must be expected_version + 1 "
            f"({expected_version + 1})"
        )


@dataclass(frozen=True)
class CaseChange:
    """One compare-and-set of a case, as ``save_case`` takes it."""

    case: Case
    expected_version: int
    events: Sequence[CaseEvent] = ()
    outbox: Sequence[OutboxItem] = ()


@runtime_checkable
class Store(Protocol):
    """Cases, their events, mention dedupe, source cursors, the outbox, message refs, places."""

    # --- cases -------------------------------------------------------------------------
    def next_case_ids(self, count: int) -> list[str]:
        """Reserve ``count`` fresh, never reused case ids (short decimal strings: "1", "2", ...)."""
        ...

    def add_cases(self, new: Sequence[NewCase]) -> list[bool]:
        """Store new cases atomically, all or nothing, each with its events and outbox items.

        Dedupe is by ``case.mention.id``: an entry whose mention is already stored (or that
        repeats an earlier entry of the same batch) is skipped and gets ``False``; the others
        get ``True``.
        """
        ...

    def has_mention(self, mention_id: str) -> bool:
        """True if a case for this mention id exists."""
        ...

    def known_mentions(self, mention_ids: Sequence[str]) -> set[str]:
        """Which of these mention ids have a case: one look-up for a whole batch, in time
        independent of the number of stored cases."""
        ...

    def active_cases_of_mentions(self, mention_ids: Sequence[str]) -> dict[str, str]:
        """Mention id -> case id of the *active* cases made from these mentions: one look-up
        for a whole batch, in time independent of the number of active cases."""
        ...

    def get_case(self, case_id: str) -> Case:
        """The stored case; raises ``CaseNotFound``."""
        ...

    def save_case(
        self,
        case: Case,
        expected_version: int,
        events: Sequence[CaseEvent] = (),
        outbox: Sequence[OutboxItem] = (),
    ) -> None:
        """Compare-and-set: replace the case whose stored version is ``expected_version``.

        ``case.version`` must be ``expected_version + 1``. Raises ``VersionConflict`` (nothing
        written) when the stored version differs, ``CaseNotFound`` when there is no such case.
        """
        ...

    def list_cases(
        self,
        *,
        states: Iterable[CaseState] | None = None,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[Case]:
        """Cases filtered by state, department and ``since <= ingested_at < until``.

        Newest ``ingested_at`` first; ``limit`` keeps the first n.
        """
        ...

    def sla_facts(
        self,
        *,
        states: Iterable[CaseState] | None = None,
        department: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SlaFacts]:
        """The SLA facts of the cases ``list_cases`` gives for the same filters, in no order.

        Equal to ``[sla_facts(c) for c in list_cases(...)]`` as a set, but read from what the
        store keeps beside each case, without decoding the cases.
        """
        ...

    def active_count(self) -> int:
        """How many cases are active (new, open or claimed).

        ``len(list_cases(states=ACTIVE_STATES))``, but kept by the store as cases change (in
        the commit that changes them), so asking costs the same whatever their number.
        """
        ...

    def crosspost_candidates(
        self, urls: Iterable[str], authors: Iterable[str], since: datetime
    ) -> list[Case]:
        """Active cases ingested at or after ``since`` that may be cross-posts of a batch.

        Every active case whose ``crosspost_keys`` share a link with ``urls`` or whose author
        key is in ``authors`` (empty keys never match) is included; a store may add others.
        Newest ``ingested_at`` first, in the order of ``list_cases``.
        """
        ...

    def events(self, case_id: str) -> list[CaseEvent]:
        """The append-only audit trail of one case, oldest first."""
        ...

    def acted_cases(
        self,
        actions: Iterable[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[Case, list[CaseEvent]]]:
        """Cases with an event whose action is in ``actions`` and ``since <= at < until``.

        Each case comes with its whole audit trail (as ``events`` gives it); cases in the
        order of their first such event. The stores find them without reading every case:
        PostgreSQL through an index on the events' action and time, TinyDB skipping history
        segments whose cases were all closed before ``since``.
        """
        ...

    # --- source cursors ------------------------------------------------------------------
    def get_cursor(self, source: str) -> str | None: ...

    def set_cursor(self, source: str, cursor: str | None) -> None: ...

    # --- outbox ---------------------------------------------------------------------------
    def lease_outbox(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Take up to ``limit`` items due at ``now`` (oldest first) and hide them for ``lease``.

        Two callers never get the same item within the lease; an item whose worker died comes
        back when the lease runs out.
        """
        ...

    def queue_outbox(self, items: Sequence[OutboxItem]) -> list[bool]:
        """Queue items about stored cases outside a change of the case (e.g. a post on one
        surface that has just become reachable), atomically, in this order.

        An item whose id is already queued is left as it is and gets ``False`` (so a caller
        that names its items by what they do never queues the same work twice); the others
        get ``True``.
        """
        ...

    def complete_outbox(self, item_id: str) -> None:
        """Remove a delivered item."""
        ...

    def finish_delivery(
        self,
        item_id: str,
        case_id: str,
        refs: Sequence[MessageRef] = (),
        change: CaseChange | None = None,
    ) -> None:
        """What a delivered item leaves behind, in one commit: the case's new message
        ``refs`` (as ``set_message_ref``), ``change`` of that case (as ``save_case``: raises
        ``VersionConflict`` or ``CaseNotFound`` and then writes nothing) and the item removed
        (as ``complete_outbox``)."""
        ...

    def retry_outbox(self, item: OutboxItem) -> None:
        """Store the item's new attempts, next_attempt_at, last_error and done surfaces."""
        ...

    def renew_outbox(self, items: Sequence[OutboxItem], until: datetime | None) -> list[OutboxItem]:
        """Move the lease of each item still held to ``until`` (``None``: give it back, due now).

        An item is still held when its stored ``next_attempt_at`` is the one in ``item`` (what
        ``lease_outbox`` or the last renewal returned); an item completed, retried or leased
        again by another worker since is left as it is. Returns the items moved, with their
        new ``next_attempt_at``, in one write.
        """
        ...

    def pending_outbox(self) -> int:
        """How many items wait for delivery."""
        ...

    # --- message refs ---------------------------------------------------------------------
    def set_message_ref(self, case_id: str, ref: MessageRef) -> None:
        """Remember where ``ref.surface`` shows the case (one ref per case and surface)."""
        ...

    def message_refs(self, case_id: str) -> dict[str, MessageRef]:
        """Surface name -> ref for the case."""
        ...

    # --- places -------------------------------------------------------------------------
    def remember_place(self, surface: str, place_id: str, data: Mapping[str, Any]) -> None:
        """Remember (or replace) where ``surface`` can post: a channel, chat or team, by id.

        ``data`` is a JSON object owned by the surface (e.g. Teams keeps the conversation
        reference needed to post there after a restart).
        """
        ...

    def places(self, surface: str) -> dict[str, dict[str, Any]]:
        """Place id -> data for every place ``surface`` remembered."""
        ...

    # --- lifecycle ------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Bring the schema up to date; returns what was done (empty when nothing)."""
        ...

    def close(self) -> None: ...
