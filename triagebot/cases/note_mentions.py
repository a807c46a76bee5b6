"""Mention tokens in the texts of notes and escalations, rendered by each surface its own way.

The core writes ``{@user:IDENTITY}`` (a person, by a qualified identity such as
``slack:U123`` or ``cli:ana``) and ``{@oncall:DEPARTMENT}`` (the department's on-call group
from its settings) into a text; a surface turns them into its markup with ``render_mentions``
(Slack: ``<@U123>`` for a person it knows, ``<!subteam^S123>``; Teams and the board: the
person's name), or into plain words with ``plain_mentions`` (console, logs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote, unquote

from triagebot.cases.identities import Identity

_MENTION = re.compile(r"\{@(user|oncall):([^{}\s]{1,640})\}")


def mention_user(who: Identity) -> str:
    """A mention of a person inside a note's text (spaces and braces in the id escaped)."""
    return f"{{@user:{quote(str(who), safe=':@._-')}}}"


def mentioned(value: str) -> Identity | None:
    """The identity a user token names (None for a token of another form)."""
    try:
        return Identity.parse(unquote(value))
    except ValueError:
        return None


def mention_oncall(department: str) -> str:
    """A mention of the department's on-call group inside a note's text."""
    return f"{{@oncall:{department}}}"


def render_mentions(text: str, render: Callable[[str, str], str]) -> str:
    """Replace each mention token with ``render(kind, value)`` (kind: "user" or "oncall")."""
    return _MENTION.sub(lambda m: render(m.group(1), m.group(2)), text)


def plain_mentions(
    text: str, name_of: Callable[[Identity], str] | None = None, at: str = "@"
) -> str:
    """Mentions as plain words: ``@Ana Lopez`` (``name_of``, else the identity's id; ``at``
    before it), ``@on-call:shipping``."""

    def plain(kind: str, value: str) -> str:
        if kind != "user":
            return f"@on-call:{value}"
        who = mentioned(value)
        if who is None:
            return f"{at}{value}"
        return f"{at}{name_of(who) if name_of is not None else who.id}"

    return render_mentions(text, plain)


def inert_text(text: str) -> str:
    """Untrusted words (a customer's follow-up, a reply's text) quoted inside a note: a
    ``{@…}`` in them can never become a mention token."""
    return text.replace("{@", "(@")
