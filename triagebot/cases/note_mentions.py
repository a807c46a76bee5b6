"""Mention tokens in the texts of notes and escalations, rendered by each surface its own way.

The core writes ``{@user:ID}`` (a person: a --by name or a Slack/Teams user id) and
``{@oncall:DEPARTMENT}`` (the department's on-call group from its settings) into a text; a
surface turns them into its markup with ``render_mentions`` (Slack: ``<@U123>`` and
``<!subteam^S123>``), or into plain words with ``plain_mentions`` (console, logs).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_MENTION = re.compile(r"\{@(user|oncall):([^{}\s]{1,80})\}")


def mention_user(who: str) -> str:
    """A mention of a person inside a note's text."""
    return f"{{@user:{who}}}"


def mention_oncall(department: str) -> str:
    """A mention of the department's on-call group inside a note's text."""
    return f"{{@oncall:{department}}}"


def render_mentions(text: str, render: Callable[[str, str], str]) -> str:
    """Replace each mention token with ``render(kind, value)`` (kind: "user" or "oncall")."""
    return _MENTION.sub(lambda m: render(m.group(1), m.group(2)), text)


def _plain(kind: str, value: str) -> str:
    return f"@{value}" if kind == "user" else f"@on-call:{value}"


def plain_mentions(text: str) -> str:
    """Mentions as plain words: ``@ana``, ``@on-call:shipping``."""
    return render_mentions(text, _plain)
