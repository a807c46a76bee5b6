"""RSS and Atom feeds: Google Alerts, forums (Discourse ``posts.rss``), review sites.

``base_url`` is the feed's URL. Feeds have no cursor of their own, so the adapter's cursor
keeps the feed's ETag and Last-Modified (a 304 costs nothing) and the ids already seen; an
entry that stays in the feed window for several polls is reported once. Google Alerts links
are ``google.com/url`` redirects: the mention keeps the real URL, and the publisher's domain
stands in for the missing author. Titles and descriptions are HTML (escaped or CDATA), turned
into plain text with entities decoded once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx

from integrations.sources._base import BaseSource, Latest, dump_cursor, kept, load_cursor
from integrations.sources._http import get
from integrations.sources._text import html_to_text, join, language, parse_time, tidy
from integrations.sources.rss_public import RssPublic
from triagebot.cases.links import safe_http_url, unwrap_redirect
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

SEEN_KEEP = 500
#: What feedparser flags although the XML is well-formed: a charset other than declared, or
#: a feed served as text/html (a malformed body is reported as a parse error instead).
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_ALERT_PREFIX = "tag:google.com,2013:googlealerts/feed:"
_EMAIL_NAME = re.compile(r"^(\S+@\S+)\s*\((.*)\)$")
#: What a stored case keeps of a feed entry (``raw``): its id and link (nothing reads more).
RAW_FIELDS = ("id", "link")


class RssSource(BaseSource, RssPublic):
    kind = "rss"
    default_base_url = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not safe_http_url(self.base_url):
            raise self.bad_option("base_url", "an RSS source needs the feed's http(s) URL")

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        headers = {}
        if etag := state.get("etag"):
            headers["If-None-Match"] = str(etag)
        if modified := state.get("modified"):
            headers["If-Modified-Since"] = str(modified)
        now = self.clock()
        response = await get(http, self.name, self.base_url, headers=headers, now=now)
        if response.status_code == 304:
            return PollResult((), cursor)
        # Parsing a large feed is CPU work: done off the event loop, so /healthz and the chat
        # surfaces keep answering while a feed of long posts is read.
        return await asyncio.to_thread(self._read, response, state, now)

    def _read(self, response: httpx.Response, state: dict[str, Any], now: datetime) -> PollResult:
        """The mentions of a fetched feed and the cursor after them."""
        feed = feedparser.parse(
            response.content,
            response_headers={
                "content-location": str(response.url),
                "content-type": response.headers.get("content-type", "application/xml"),
            },
        )
        if feed.bozo and not isinstance(feed.get("bozo_exception"), _HARMLESS):
            # A broken body is a failed poll: entries salvaged from it would be guesses.
            problem = feed.get("bozo_exception")
            where = getattr(problem, "getLineNumber", lambda: None)()
            at = f" at line {where}" if isinstance(where, int) else ""
            raise SourceError(
                f"{self.name}: not a well-formed feed ({type(problem).__name__}{at}); "
                "nothing was stored and the next poll reads it again"
            )
        seen = list(state.get("seen") or [])
        known = set(seen)
        lang = language(feed.feed.get("language"))
        site = safe_http_url(feed.feed.get("link")) or self.base_url
        latest = Latest()
        fresh: set[str] = set()  # keys new in this poll: a second copy may replace the first
        for entry in feed.entries:
            key = entry_key(entry)
            if key in known and key not in fresh:
                continue
            if key not in fresh:
                known.add(key)
                fresh.add(key)
                seen.append(key)
            updated = entry_time(entry, now, ("updated_parsed", "published_parsed"))
            latest.offer(self._mention(entry, key, site, lang, now), updated.timestamp())
        new_state = {
            "etag": response.headers.get("etag"),
            "modified": response.headers.get("last-modified"),
            "seen": seen[-SEEN_KEEP:],
        }
        return PollResult(latest.mentions(), dump_cursor(new_state))

    def _mention(
        self, entry: dict[str, Any], key: str, site: str, lang: str | None, now: datetime
    ) -> Mention:
        link = unwrap_redirect(str(entry.get("link") or ""))
        url = safe_http_url(link)
        handle, name = entry_author(entry)
        if not handle and url:
            handle = (urlsplit(url).hostname or "").removeprefix("www.")
        title = field_text(entry, "title")
        body = content_text(entry)
        return self.mention(
            key.removeprefix(_ALERT_PREFIX),
            url=url,
            fallback_url=site,
            handle=handle,
            name=name,
            text=join(title, body, sep="\n\n") if body != title else title,
            created_at=entry_time(entry, now),
            lang=lang,
            raw=kept(entry, RAW_FIELDS),
        )


def entry_key(entry: dict[str, Any]) -> str:
    """guid/id, else the link, else a hash of title and date."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    basis = f"{entry.get('title', '')}|{entry.get('published', '')}".encode()
    return "sha1-" + hashlib.sha1(basis).hexdigest()[:20]


def field_text(entry: dict[str, Any], key: str) -> str:
    """A text construct as plain text: HTML types are stripped, plain text only tidied."""
    value = entry.get(key)
    if not isinstance(value, str):
        return ""
    detail = entry.get(f"{key}_detail") or {}
    if str(detail.get("type", "text/html")) == "text/plain":
        return tidy(value)
    return html_to_text(value)


def content_text(entry: dict[str, Any]) -> str:
    for item in entry.get("content") or ():
        value = item.get("value")
        if isinstance(value, str) and value.strip():
            if item.get("type") == "text/plain":
                return tidy(value)
            return html_to_text(value)
    return field_text(entry, "summary")


def entry_author(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """(handle, name): Discourse packs ``@handle Full Name``; RSS ``author`` is ``email (Name)``."""
    detail = entry.get("author_detail") or {}
    raw = " ".join(str(entry.get("author") or detail.get("name") or "").split())
    if raw.startswith("@"):
        handle, _, name = raw[1:].partition(" ")
        return handle or None, name.strip() or None
    if match := _EMAIL_NAME.match(raw):
        name = match.group(2).strip()
        return (name or match.group(1)), (name or None)
    return (raw or None), (raw or None)


def entry_time(
    entry: dict[str, Any],
    now: datetime,
    keys: tuple[str, str] = ("published_parsed", "updated_parsed"),
) -> datetime:
    """When the entry was published (``keys`` in order of preference), else ``now``."""
    # dict.get: feedparser's own lookup maps updated* to published* with a warning
    for key in keys:
        parsed = dict.get(entry, key)
        if isinstance(parsed, time.struct_time):
            try:
                return parse_time(datetime(*parsed[:6], tzinfo=UTC), now)
            except ValueError:
                continue
    return parse_time(dict.get(entry, "published") or dict.get(entry, "updated"), now)
