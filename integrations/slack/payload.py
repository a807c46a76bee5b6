"""What a Slack button carries: the shared case payload (``integrations.common.payload``).

A button's ``value`` holds ``CasePayload.to_value()``; ``parse_value`` and ``parse_option``
read it back. Kept as a module so Slack code and tests import from their own package.
"""

from __future__ import annotations

from integrations.common.payload import (
    PAYLOAD_VERSION,
    ActionId,
    BadPayload,
    CasePayload,
    option_value,
    parse_option,
    parse_value,
)

__all__ = [
    "PAYLOAD_VERSION",
    "ActionId",
    "BadPayload",
    "CasePayload",
    "option_value",
    "parse_option",
    "parse_value",
]
