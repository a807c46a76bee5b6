"""What a Slack button carries: an action id from one prefixed enum and a small typed payload.

A button's ``value`` holds ``{"v": 1, "case": "<id>", "ver": <case version>}`` as compact JSON
and nothing else: never state, never who may click. ``parse_value`` is the one place that reads
it back; anything else (a forged, truncated or older payload) is ``BadPayload``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from triagebot.errors import TriagebotError

PAYLOAD_VERSION = 1
_CASE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class ActionId(StrEnum):
    """Every interactive element triagebot puts in a Slack message."""

    CLAIM = "case-claim"
    UNCLAIM = "case-unclaim"
    RESOLVE = "case-resolve"
    REOPEN = "case-reopen"
    REASSIGN = "case-reassign"
    SPAM = "case-spam"


class BadPayload(TriagebotError):
    """A button value that triagebot did not write (or wrote in an older format)."""


@dataclass(frozen=True)
class CasePayload:
    """The case a button acts on, and the version of the case the button was rendered from."""

    case_id: str
    version: int

    def to_value(self) -> str:
        return json.dumps(
            {"v": PAYLOAD_VERSION, "case": self.case_id, "ver": self.version},
            separators=(",", ":"),
        )


def parse_value(value: object) -> CasePayload:
    """Read a button's value (or a select option's value); raises ``BadPayload``."""
    if not isinstance(value, str) or len(value) > 2000:
        raise BadPayload("this button is not one of triagebot's")
    try:
        data = json.loads(value)
    except ValueError:
        raise BadPayload("this button is not one of triagebot's") from None
    if not isinstance(data, dict) or data.get("v") != PAYLOAD_VERSION:
        raise BadPayload("this button is from an older message; use the case's current message")
    case_id, version = data.get("case"), data.get("ver")
    if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
        raise BadPayload("this button names no case")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadPayload("this button names no case version")
    return CasePayload(case_id, version)


def option_value(case_id: str, version: int, department: str) -> str:
    """The value of one option of the Reassign select: the payload plus the department id."""
    return json.dumps(
        {"v": PAYLOAD_VERSION, "case": case_id, "ver": version, "dept": department},
        separators=(",", ":"),
    )


def parse_option(value: object) -> tuple[CasePayload, str]:
    """Read a Reassign option's value: the case payload and the department chosen."""
    payload = parse_value(value)
    department = json.loads(str(value)).get("dept")
    if not isinstance(department, str) or not department:
        raise BadPayload("this option names no department")
    return payload, department
