"""What ``/healthz`` reports about the store, kept in memory.

A platform's health check must get its answer at once, even while a delivery drain or a
large ingest holds the store. ``HealthCounts`` is refreshed by a job on the background lane
every ``HEALTH_EVERY`` and read by ``/healthz`` without touching the store; ``counts_at``
says when the counts were taken (``None`` until the first refresh has finished).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from triagebot.cases.time_fields import iso
from triagebot.store.base import Store

HEALTH_EVERY = timedelta(seconds=2)


class HealthCounts:
    """Active cases and pending outbox items, as of the last refresh."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._counts: dict[str, Any] = {
            "active_cases": None,
            "pending_outbox": None,
            "counts_at": None,
        }

    def refresh(self) -> None:
        """Count again (blocking: run it in a worker thread)."""
        at = datetime.now(UTC)
        pending = self.store.pending_outbox()
        # Kept by the store as cases change: the same cost at 10 or 50,000 active cases.
        active = self.store.active_count()
        # One assignment: a reader sees the old counts or the new ones, never a mix.
        self._counts = {"active_cases": active, "pending_outbox": pending, "counts_at": iso(at)}

    def snapshot(self) -> dict[str, Any]:
        return dict(self._counts)
