"""Mentions from JSON lines (``triagebot ingest``, the demo): validated, with file:line errors.

One JSON object per line, in the shape of ``Mention.to_dict``: ``id``, ``source``, ``url``,
``text`` and ``created_at`` are required (``text`` may be empty: a photo, a bare rating);
``kind`` defaults to the source, ``author`` may be a handle or ``{"handle", "name",
"followers"}``. The whole file is checked before anything is stored, so a bad line leaves the
store untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from triagebot.cases.caps import cap_mention
from triagebot.cases.control_chars import control_character_field
from triagebot.cases.records import Author, Mention
from triagebot.cases.time_fields import utc
from triagebot.errors import InputError

MAX_TEXT = 40_000
#: No post is older than this; an earlier ``created_at`` is a mistake in the file.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _text(
    data: Mapping[str, Any], key: str, *, required: bool = True, may_be_empty: bool = False
) -> str | None:
    value = data.get(key)
    if value is None or (value == "" and not may_be_empty):
        if required:
            raise ValueError(f"{key}: is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be a string")
    return value


def _author(value: Any) -> Author:
    if value is None:
        return Author(handle="unknown")
    if isinstance(value, str):
        return Author(handle=value)
    if not isinstance(value, dict):
        raise ValueError("author: must be a handle or an object with handle, name, followers")
    handle = _text(value, "handle")
    followers = value.get("followers")
    if followers is not None and (not isinstance(followers, int) or followers < 0):
        raise ValueError("author.followers: must be a whole number >= 0")
    name = value.get("name")
    return Author(
        handle=str(handle), name=str(name) if name is not None else None, followers=followers
    )


def check_url(url: str) -> str:
    """Only absolute http(s) links are kept."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url: {url[:80]!r} is not an absolute http(s) link")
    return url


def _created_at(stamp: str | None) -> datetime:
    try:
        when = utc(datetime.fromisoformat(str(stamp)))
    except ValueError:
        raise ValueError(f"created_at: {stamp!r} is not an ISO 8601 time") from None
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar in UTC
        raise ValueError(f"created_at: {stamp!r} is outside the calendar in UTC") from None
    if when < EARLIEST:
        raise ValueError(f"created_at: {stamp!r} is before {EARLIEST:%Y}: not a post's time")
    return when


def decode_json_line(line: str) -> Any:
    """One JSON value; ValueError (never RecursionError) for what cannot be decoded."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None


def mention_from_json(data: Any, *, created_at: datetime | None = None) -> Mention:
    """Build a Mention from one decoded JSON object; raises ValueError naming the field."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    when = created_at
    if when is None:
        when = _created_at(_text(data, "created_at"))
    source = str(_text(data, "source"))
    text = str(_text(data, "text", may_be_empty=True))  # empty: a photo, a bare rating
    raw = data.get("raw")
    mention = Mention(
        id=str(_text(data, "id")),
        source=source,
        kind=_text(data, "kind", required=False) or source,
        url=check_url(str(_text(data, "url"))),
        author=_author(data.get("author")),
        text=text,
        created_at=when,
        lang=_text(data, "lang", required=False),
        raw=raw if isinstance(raw, dict) else {},
    )
    if (field := control_character_field(mention)) is not None:
        raise ValueError(f"{field}: contains a control character (line break, tab, bidi mark)")
    return cap_mention(mention, MAX_TEXT)


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for each non-blank line; InputError on bad JSON."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    data = decode_json_line(line)
                except ValueError as exc:
                    raise InputError(f"{path}:{number}: {exc}") from None
                yield number, data
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None


def read_mentions(path: Path) -> list[Mention]:
    """Every mention of a JSON-lines file, or InputError for the first bad line."""
    mentions = []
    for number, data in iter_json_lines(path):
        try:
            mentions.append(mention_from_json(data))
        except ValueError as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
    return mentions
