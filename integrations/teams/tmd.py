"""Teams card text for untrusted input: the Adaptive Card markdown subset made inert.

A ``TextBlock`` in Teams renders a markdown subset (``**bold**``, ``_italic_``, ``[label](url)``,
lists, headings) and turns bare URLs into links; the bot framework also treats ``<at>…</at>``
as a mention. Strangers' text therefore has control and direction-override characters
dropped, every markdown punctuation character backslash-escaped (``\\*`` shows ``*``), list
and heading markers at a line start escaped, ``<``/``>`` escaped so no tag (``<at>``, HTML)
survives, and URL schemes and ``www.`` defanged (``https[:]//``) so nothing becomes a link.
Real links are made only from http(s) URLs, in ``Action.OpenUrl``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from triagebot.cases.links import safe_http_url

ELLIPSIS = "…"
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPECIAL = re.compile(r"([\\`*_\[\]()<>#+!|~&])")
_LINE_START = re.compile(r"^([ \t]*)(\d+)([.)])", re.MULTILINE)
_DASH_START = re.compile(r"^([ \t]*)([-=])", re.MULTILINE)
_SCHEME = re.compile(r"\b([a-z][a-z0-9+.-]{1,20}):(?=//)", re.IGNORECASE)
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)
_CODE_TAGS = str.maketrans({"<": "\u2039", ">": "\u203a"})
_BARE_DOMAIN = re.compile(r"\b([a-z0-9-]{1,63})\.(com|net|org|io|co|ly|me|app|dev|xyz)\b", re.I)


def clean(text: str) -> str:
    """Drop control and direction-override characters; keep newlines and tabs."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def escape(text: str) -> str:
    """Untrusted text as inert Teams markdown (see the module docstring)."""
    text = _SCHEME.sub(r"\1[:]", clean(text))
    text = _WWW.sub(r"\1[.]", text)
    text = _BARE_DOMAIN.sub(r"\1[.]\2", text)
    text = _SPECIAL.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\2\\\3", text)
    return _DASH_START.sub(r"\1\\\2", text)


def escape_keeping_code(text: str) -> str:
    """Like ``escape``, but code spans (between backticks) of triagebot's own messages stay
    code: their insides are shown as typed, with ``<``/``>`` swapped for look-alikes so no tag
    survives. The words they quote had their backticks removed
    (``triagebot.reports.query.quoted``), so a span cannot be closed early."""
    parts = clean(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans at all
        return escape(text)
    out = []
    for i, part in enumerate(parts):
        out.append(escape(part) if i % 2 == 0 else part.translate(_CODE_TAGS))
    return "`".join(out)


def cut(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cleaned and cut on whole characters to ``limit`` (ending with an ellipsis)."""
    text = clean(text)
    if len(text) <= limit:
        return text, False
    return text[: limit - 1].rstrip() + ELLIPSIS, True


def escape_cut(text: str, limit: int) -> tuple[str, bool]:
    """Cut to ``limit`` characters of the original, then escape; and whether it was cut."""
    short, was_cut = cut(text, limit)
    return escape(short), was_cut


def one_line(text: str, limit: int) -> str:
    """Escaped, whitespace collapsed to single spaces, cut to ``limit``."""
    return escape_cut(" ".join(clean(text).split()), limit)[0]


def plain_line(text: str, limit: int) -> str:
    """One line of plain text (for fields that are never markdown: titles, choice labels)."""
    return cut(" ".join(clean(text).split()), limit)[0]


def safe_url(url: str, limit: int = 2_000) -> str | None:
    """The URL if it is a short http(s) URL with a host and no spaces, else None."""
    checked = safe_http_url(clean(url))
    return checked if checked is not None and len(checked) <= limit else None


def when(at: datetime) -> str:
    """A date and time every viewer sees in their own time zone (Adaptive Card functions)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"
