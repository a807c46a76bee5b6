"""What a Slack button carries: the shared case payload (``integrations.common.payload``).

A button's ``value`` holds ``CasePayload.to_value()``; ``parse_value`` and ``parse_option``
read it back. Kept as a module so Slack code and tests import from their own package.

Slack wants every ``action_id`` of an actions block to be its own, so the suggested
departments' buttons are ``case-suggest-1``, ``case-suggest-2``, …; ``listens_to`` gives the
pattern a listener matches for each action.
"""

from __future__ import annotations

import re

from integrations.common.payload import (
    PAYLOAD_VERSION,
    ActionId,
    BadPayload,
    CasePayload,
    option_value,
    parse_option,
    parse_value,
)

_SUGGESTED = re.compile(rf"^{re.escape(ActionId.SUGGEST.value)}-[0-9]{{1,2}}$")


def suggest_action_id(n: int) -> str:
    """The action id of the ``n``-th suggested department's button (from 1)."""
    return f"{ActionId.SUGGEST.value}-{n}"


def listens_to(action: ActionId) -> str | re.Pattern[str]:
    """What a Bolt listener for ``action`` matches: its id, or the numbered suggestion ids."""
    return _SUGGESTED if action is ActionId.SUGGEST else action.value


__all__ = [
    "PAYLOAD_VERSION",
    "ActionId",
    "BadPayload",
    "CasePayload",
    "listens_to",
    "option_value",
    "parse_option",
    "parse_value",
    "suggest_action_id",
]
