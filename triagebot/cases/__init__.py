"""What a case is and how it may change.

The records every other package speaks in (``Mention``, ``Case``, ``CaseEvent``, ``OutboxItem``),
the lifecycle state machine (``apply`` a ``Command`` to a case under a ``LifecyclePolicy``),
the per-case facts stored beside each case (SLA facts, cross-post keys), link hygiene, and the
mention tokens notes carry. Pure data and functions: nothing here reads a store, a clock or a
platform.
"""

from triagebot.cases.lifecycle import Command, LifecyclePolicy, apply
from triagebot.cases.records import (
    ACTIVE_STATES,
    Case,
    CaseEvent,
    CaseState,
    Mention,
    OutboxItem,
    Priority,
)

__all__ = [
    "ACTIVE_STATES",
    "Case",
    "CaseEvent",
    "CaseState",
    "Command",
    "LifecyclePolicy",
    "Mention",
    "OutboxItem",
    "Priority",
    "apply",
]
