"""The Surface interface: where people see and act on cases (Slack, Teams, console, board).

A surface renders a case its own way (escaping untrusted text for its markup); the core
only asks it to post, update and reply. Failures are raised as ``DeliveryError``.
"""

from __future__ import annotations

from typing import Protocol

from triagebot.cases.records import Case, MessageRef


class Surface(Protocol):
    """One place cases are shown. ``name`` keys the message refs in the store."""

    name: str

    def shows(self, case: Case) -> bool:
        """True if this surface has somewhere to show the case (a channel for its department)."""
        ...

    async def post(self, case: Case) -> MessageRef:
        """Show a new case; returns where it was shown."""
        ...

    async def update(self, case: Case, ref: MessageRef) -> None:
        """Re-render the case where it is shown."""
        ...

    async def reply(self, case: Case, ref: MessageRef, text: str) -> None:
        """Add a short note under the case's message (thread reply)."""
        ...

    async def escalate(self, case: Case, ref: MessageRef | None, text: str) -> None:
        """Post ``text`` about the case to the escalation channel (``ref``: where it is shown)."""
        ...
