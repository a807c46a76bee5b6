"""Slack mrkdwn for untrusted text: escaping, cutting to a limit, safe links and date tokens.

Strangers write the posts triagebot relays. Only ``&``, ``<`` and ``>`` are escaped (Slack's
rule: they open every control sequence, ``<!channel>``, ``<@U…>``, ``<url|label>``); control and
direction-override characters are dropped; links are made only from http(s) URLs, with the
characters that would end Slack's link syntax percent-encoded.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from triagebot.cases.identities import Identity
from triagebot.cases.links import safe_http_url
from triagebot.config.people import People

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")
_URL_UNSAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '|<> "`{}\\^')
ELLIPSIS = "…"


def clean(text: str) -> str:
    """Drop control and direction-override characters; keep newlines and tabs."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def escape(text: str) -> str:
    """Untrusted text as inert mrkdwn: control characters dropped, ``& < >`` escaped."""
    return "".join(_ESCAPES.get(ch, ch) for ch in clean(text))


def escape_cut(text: str, limit: int) -> tuple[str, bool]:
    """Escape ``text`` and cut it (on whole characters and entities) to at most ``limit``.

    Returns the escaped text and whether it was cut; a cut text ends with an ellipsis.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped, False
    out: list[str] = []
    size = 0
    for ch in clean(text):
        piece = _ESCAPES.get(ch, ch)
        if size + len(piece) > limit - len(ELLIPSIS):
            break
        out.append(piece)
        size += len(piece)
    return "".join(out).rstrip() + ELLIPSIS, True


def one_line(text: str, limit: int) -> str:
    """Escaped, whitespace collapsed to single spaces, cut to ``limit``."""
    return escape_cut(" ".join(clean(text).split()), limit)[0]


def safe_url(url: str) -> str | None:
    """The URL fit for ``<url|label>`` if it is http(s) with a host, else None."""
    checked = safe_http_url(clean(url))
    if checked is None:
        return None
    safe = quote(checked, safe=_URL_UNSAFE)
    return safe if len(safe) <= 2900 else None


def link(url: str, label: str) -> str:
    """A link with an escaped label, or the label alone when the URL is not safe."""
    target = safe_url(url)
    text = one_line(label, 200)
    return f"<{target}|{text}>" if target else text


def date_token(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: every viewer sees ``at`` in their own time zone."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def is_slack_user(actor: str | None) -> bool:
    """True if ``actor`` looks like a Slack user id (who clicked in Slack)."""
    return actor is not None and bool(_SLACK_USER.match(actor))


def is_slack_group(group: str) -> bool:
    """True if ``group`` looks like a Slack user group id (``S…``)."""
    return bool(_SLACK_GROUP.match(group))


def person(actor: Identity | None, people: People | None = None) -> str:
    """A Slack mention for a person Slack knows (their Slack identity, or one the people
    directory joins to theirs), the escaped name for anyone else."""
    if actor is None:
        return "nobody"
    people = people or People()
    slack = people.on_surface(actor, "slack")
    if slack is not None and is_slack_user(slack.id):
        return f"<@{slack.id}>"
    return one_line(people.name_of(actor), 80)
