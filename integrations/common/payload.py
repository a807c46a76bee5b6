"""What a case button carries on every surface: a prefixed action id and a small typed payload.

A Slack button's ``value`` (a string) and a Teams card action's ``data`` (an object) hold
``{"v": 1, "case": "<id>", "ver": <case version>}`` and nothing else: never state, never who
may click. ``parse_payload`` is the one place that reads it back, from the JSON string or the
object; anything else (a forged, truncated or older payload) is ``BadPayload``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from triagebot.errors import TriagebotError

PAYLOAD_VERSION = 1
MAX_VALUE = 2000
_CASE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_NOT_OURS = "this button is not one of triagebot's"


class ActionId(StrEnum):
    """Every action triagebot puts on a case (Slack action id, Teams card verb)."""

    CLAIM = "case-claim"
    UNCLAIM = "case-unclaim"
    RESOLVE = "case-resolve"
    REOPEN = "case-reopen"
    REASSIGN = "case-reassign"
    SPAM = "case-spam"
    SUGGEST = "case-suggest"  # a suggested department's button: a reassign to it


class BadPayload(TriagebotError):
    """A button value that triagebot did not write (or wrote in an older format)."""


@dataclass(frozen=True)
class CasePayload:
    """The case a button acts on, and the version of the case the button was rendered from."""

    case_id: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"v": PAYLOAD_VERSION, "case": self.case_id, "ver": self.version}

    def to_value(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _as_object(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise BadPayload(_NOT_OURS)
    try:
        data = json.loads(value)
    except ValueError:
        raise BadPayload(_NOT_OURS) from None
    if not isinstance(data, dict):
        raise BadPayload(_NOT_OURS)
    return data


def parse_payload(value: object) -> CasePayload:
    """Read a payload from a JSON string or an object; raises ``BadPayload``."""
    data = _as_object(value)
    if data.get("v") != PAYLOAD_VERSION:
        raise BadPayload("this button is from an older message; use the case's current message")
    case_id, version = data.get("case"), data.get("ver")
    if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
        raise BadPayload("this button names no case")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadPayload("this button names no case version")
    return CasePayload(case_id, version)


def parse_value(value: object) -> CasePayload:
    """Read a Slack button's value (or a select option's value): a JSON string only."""
    if not isinstance(value, str):
        raise BadPayload(_NOT_OURS)
    return parse_payload(value)


def option_value(case_id: str, version: int, department: str) -> str:
    """The value of one option of the Reassign select (or of a suggested department's
    button): the payload plus the department id."""
    return json.dumps(
        {"v": PAYLOAD_VERSION, "case": case_id, "ver": version, "dept": department},
        separators=(",", ":"),
    )


def parse_department(value: object) -> str:
    """The department a Reassign choice or a suggestion names (``dept`` next to the payload)."""
    department = _as_object(value).get("dept")
    if not isinstance(department, str) or not department:
        raise BadPayload("this option names no department")
    return department


def parse_option(value: object) -> tuple[CasePayload, str]:
    """Read a Reassign option's value: the case payload and the department chosen."""
    return parse_value(value), parse_department(value)
