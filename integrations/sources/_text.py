"""Text and time as sources send them, made plain: HTML to text, entities decoded once, UTC.

``html_to_text`` is for fields that are HTML (Mastodon content, HN comments, feed
descriptions, Stack Exchange bodies): the HTML parser decodes each entity exactly once, so
``&amp;lt;`` stays the visible text ``&lt;``. ``unescape`` is for plain fields that arrive
entity-escaped (X text, Stack Exchange titles). Plain fields that arrive raw (Reddit with
``raw_json=1``, Bluesky, App Store) are only tidied. Dates that cannot be read fall back to the
fetch time instead of failing the poll; dates in the future are clamped to it.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import lxml.etree
import lxml.html
from inscriptis import Inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

log = logging.getLogger(__name__)

_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_links=False)
_HIDDEN = (
    "//script|//style|//template"
    "|//*[contains(concat(' ', normalize-space(@class), ' '), ' invisible ')]"
)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FUTURE_SLACK = timedelta(minutes=5)


def tidy(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one empty line between paragraphs."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: tags gone, entities decoded once, hidden parts dropped."""
    if not markup or not markup.strip():
        return ""
    if "<" not in markup and "&" not in markup:
        return tidy(markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return tidy(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    for element in root.xpath(_HIDDEN):
        element.drop_tree()
    for node in root.iter():  # inscriptis unescapes text again: keep "&lt;" typed by a person
        if node.text:
            node.text = node.text.replace("&", "&amp;")
        if node.tail:
            node.tail = node.tail.replace("&", "&amp;")
    return tidy(Inscriptis(root, _CONFIG).get_text())


def unescape(text: str | None) -> str:
    """A plain field that arrives entity-escaped (``&amp;`` -> ``&``), decoded once."""
    return tidy(html.unescape(text or ""))


def join(*parts: str | None, sep: str = "\n\n") -> str:
    """The non-empty parts joined (title and body)."""
    return sep.join(p for p in (x.strip() if x else "" for x in parts) if p)


def parse_time(value: object, fallback: datetime) -> datetime:
    """A UTC datetime from epoch seconds, ISO 8601 or RFC 822; ``fallback`` if unreadable."""
    parsed = _parse(value)
    if parsed is None:
        if value not in (None, ""):
            log.info("unreadable date %r; using the fetch time", str(value)[:60])
        return fallback
    try:
        if parsed > fallback + _FUTURE_SLACK:  # a client-supplied date in the future
            return fallback
    except OverflowError:  # the fallback is the calendar's end: nothing lies beyond it
        return parsed
    return parsed


def _parse(value: object) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        return None


def _from_epoch(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def language(value: object) -> str | None:
    """A language code, or None for missing and undetermined ("und")."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower()
    return None if code in ("", "und", "zxx") else code[:16]
