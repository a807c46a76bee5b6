"""What one stored mention may hold: bounded text, links, author fields and raw payload.

Public posts are written by strangers, and one post of a megabyte, with a thousand links or a
display name of ten thousand characters must cost no more than an ordinary one to triage, store
and show. ``cap_mention`` bounds every field; the source adapters apply it to each mention they
build (before triage and storage) and so does the JSON-lines reader. Every step is linear in the
size of the input: no pattern here can backtrack.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from triagebot.cases.records import Author, Mention

#: Characters of post text kept; the rest is cut at a word boundary and marked with "…".
MAX_TEXT = 10_000
#: The most post text any path may keep (a source's ``max_text``, JSON lines); the ingest
#: pipeline and the router cut there whatever reached them, so routing time stays bounded.
TEXT_CEILING = 40_000
#: Links kept in a post's text; later ones are replaced by ``LINK_REMOVED``.
MAX_LINKS = 20
LINK_REMOVED = "[link removed]"
MAX_HANDLE = 100
MAX_NAME = 200
MAX_URL = 2_048
MAX_LANG = 16
MAX_FOLLOWERS = 10**10
#: The raw payload kept for reference: its size, strings, list lengths, keys and nesting.
MAX_RAW_STRING = 2_000
MAX_RAW_ITEMS = 50  # items of a list
MAX_RAW_KEYS = 200  # keys of an object (a Reddit post has about a hundred)
MAX_RAW_CHARS = 20_000  # the whole payload, serialised
MAX_RAW_DEPTH = 6

_LINK = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_ELLIPSIS = "…"


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, cut at a space near the end when there is one."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ", max(0, limit - 80))
    if space > 0:
        head = head[:space]
    return head.rstrip() + _ELLIPSIS


def cap_links(text: str, limit: int = MAX_LINKS) -> str:
    """The text with at most ``limit`` links; the ones after are replaced by a marker."""
    count = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return match.group(0) if count <= limit else LINK_REMOVED

    return _LINK.sub(keep, text)


def cap_text(text: str, limit: int = MAX_TEXT) -> str:
    """Post text cut to ``limit`` characters with at most ``MAX_LINKS`` links."""
    return cap_links(cut(text, limit))


def cap_field(value: str | None, limit: int) -> str | None:
    """A one-line author field: control and direction characters gone, spaces collapsed, cut."""
    if value is None:
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    return cut(text, limit) if text else None


def cap_followers(value: object) -> int | None:
    """A follower count, or None when it is not a plausible count."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_FOLLOWERS else None


def cap_raw(value: Any) -> Any:
    """The decoded JSON payload within ``MAX_RAW_CHARS`` once serialised: the same object when
    it already is; else a copy with every string, list, object and nesting level bounded; else
    (still too large) only its top-level plain values, cut short."""
    if _size(value) <= MAX_RAW_CHARS:
        return value
    bounded = _bounded(value, 0)
    if _size(bounded) <= MAX_RAW_CHARS:
        return bounded
    if not isinstance(bounded, dict):
        return None
    plain = [(k, v) for k, v in bounded.items() if not isinstance(v, dict | list)]
    return {k: cut(v, 200) if isinstance(v, str) else v for k, v in plain[:MAX_RAW_ITEMS]}


def _size(value: Any) -> int:
    try:
        return len(json.dumps(value, default=str, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        return MAX_RAW_CHARS + 1


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return cut(value, MAX_RAW_STRING)
    if depth >= MAX_RAW_DEPTH:
        return None if isinstance(value, dict | list | tuple) else value
    if isinstance(value, dict):
        items = list(value.items())[:MAX_RAW_KEYS]
        return {cut(str(k), 100): _bounded(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_bounded(v, depth + 1) for v in value[:MAX_RAW_ITEMS]]
    return value


def cap_author(author: Author) -> Author:
    return Author(
        handle=cap_field(author.handle, MAX_HANDLE) or "unknown",
        name=cap_field(author.name, MAX_NAME),
        followers=cap_followers(author.followers),
    )


def cap_mention(mention: Mention, max_text: int = MAX_TEXT) -> Mention:
    """The mention with every field within the caps above (the same object when it already is)."""
    text = cap_text(mention.text, max_text)
    author = cap_author(mention.author)
    lang = mention.lang[:MAX_LANG] if mention.lang else None
    raw = cap_raw(mention.raw) if mention.raw else mention.raw
    if (
        text == mention.text
        and author == mention.author
        and lang == mention.lang
        and raw is mention.raw
        and len(mention.url) <= MAX_URL
    ):
        return mention
    return replace(
        mention,
        text=text,
        author=author,
        lang=lang,
        raw=raw,
        url=mention.url if len(mention.url) <= MAX_URL else mention.url[:MAX_URL],
    )
