"""Mastodon: hashtag timelines (public) and status search (``/api/v2/search``, user token).

Status full-text search returns nothing without a user token, so it runs only when the token
variable is set (``search = true`` makes the token required); hashtag timelines need none.
Each stream keeps the newest status id it has seen and asks for ``min_id`` (ids are strings
ordered by length, then text; never numbers). The first poll walks back through ``max_id``
until the backfill window. A post is identified by its ``uri``, the same on every instance, so
a status found by search and by a hashtag is one mention; a boost stands for its original.
The rate-limit reset header is an ISO 8601 time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import StrictBool

from integrations.sources._base import (
    BaseSource,
    Latest,
    as_dict,
    dump_cursor,
    in_turns,
    kept,
    load_cursor,
    partial_result,
)
from integrations.sources._http import RateLimit, ResetStyle, get, json_body, pause_for
from integrations.sources._options import Text
from integrations.sources._text import html_to_text, join, language, parse_time, tidy
from integrations.sources.mastodon_public import MastodonPublic, MastodonPublicOptions
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult, minimal_keywords

LIMIT = RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", ResetStyle.ISO)
#: What a stored case keeps of a status (``raw``): its ids and URLs, the account that replies
#: mention, and the same of a boosted original (``mastodon_public``: ``_local_id``, ``_acct``).
RAW_FIELDS = (
    "id",
    "uri",
    "url",
    "account.acct",
    "reblog.id",
    "reblog.uri",
    "reblog.url",
    "reblog.account.acct",
)


def id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids sort by length, then lexically."""
    return (len(status_id), status_id)


class MastodonOptions(MastodonPublicOptions):
    hashtags: list[Text] | None = None  # default: the brand's keywords without spaces
    search: StrictBool | None = None  # true: status search is required (needs the token)
    access_token_env: Text | None = None


class MastodonSource(BaseSource, MastodonPublic):
    kind = "mastodon"
    default_base_url = "https://mastodon.social"
    default_page_size = 40
    options_model = MastodonOptions
    options: MastodonOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wants_search = self.options.search
        self.token = self.credential(
            "access_token_env", "MASTODON_ACCESS_TOKEN", required=wants_search is True
        )
        self.search = self.token is not None and wants_search is not False
        tags = self.options.hashtags
        if tags is None:
            tags = [w.replace(" ", "") for w in minimal_keywords(self.brand)]
        if not all(t.strip().strip("#") for t in tags):
            raise self.bad_option("hashtags", "must be a list of hashtags")
        self.hashtags = [t.strip().lstrip("#").lower() for t in tags]
        self.instance = urlsplit(self.base_url).hostname or ""
        self._init_public()

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        latest = Latest()
        pause: float | None = None
        errors: list[tuple[str, SourceError]] = []
        streams = [f"tag:{t}" for t in self.hashtags] + (["search"] if self.search else [])
        for stream in streams:
            newest = state.get(stream) if isinstance(state.get(stream), str) else None
            back = state.get(f"{stream}:back")
            try:
                statuses, newest, back, wait = await self._stream(
                    http, stream, newest, back if isinstance(back, str) else None
                )
            except SourceError as exc:  # the other streams' posts are still ingested
                errors.append((stream, exc))
                continue
            state[stream] = newest
            state.pop(f"{stream}:back", None)
            if back is not None:  # the walk back to the backfill window goes on next time
                state[f"{stream}:back"] = back
            pause = max(pause or 0.0, wait or 0.0) or None
            async for status in in_turns(statuses):
                latest.offer(self._mention(status), self._edited(status))
        return partial_result(latest, dump_cursor(state), pause, errors, len(streams))

    async def _stream(
        self, http: httpx.AsyncClient, stream: str, newest: str | None, back: str | None
    ) -> tuple[list[dict[str, Any]], str | None, str | None, float | None]:
        """One stream's new statuses, its newest id, where the walk back to the backfill window
        goes on (None: it is done) and the pause asked for."""
        found: list[dict[str, Any]] = []
        wait: float | None = None
        if newest is not None:
            found, wait = await self._forward(http, stream, newest)
        if (newest is None or back is not None) and not wait:
            older, back, wait = await self._back(http, stream, back)
            found += older
        ids = [str(s.get("id")) for s in found] + ([newest] if newest else [])
        return found, max(ids, key=id_order) if ids else None, back, wait

    async def _forward(
        self, http: httpx.AsyncClient, stream: str, newest: str
    ) -> tuple[list[dict[str, Any]], float | None]:
        """What is newer than ``newest``, page by page (``min_id``)."""
        found: list[dict[str, Any]] = []
        bound = {"min_id": newest}
        wait: float | None = None
        for _ in range(self.max_pages):
            page, wait = await self._page(http, stream, bound)
            if not page:
                break
            found.extend(page)
            bound = {"min_id": max((str(s.get("id")) for s in page), key=id_order)}
            if wait:
                break
        return found, wait

    async def _back(
        self, http: httpx.AsyncClient, stream: str, start: str | None
    ) -> tuple[list[dict[str, Any]], str | None, float | None]:
        """Older statuses from ``start`` (None: the newest) back to the backfill window; the
        ``max_id`` to go on from when a pause or ``max_pages`` stops the walk first."""
        found: list[dict[str, Any]] = []
        floor = self.floor()
        bound: dict[str, str] = {"max_id": start} if start else {}
        wait: float | None = None
        for _ in range(self.max_pages):
            page, wait = await self._page(http, stream, bound)
            if not page:
                return found, None, wait
            found.extend(page)
            oldest = min(parse_time(s.get("created_at"), self.clock()) for s in page)
            if oldest < floor:
                return found, None, wait
            bound = {"max_id": min((str(s.get("id")) for s in page), key=id_order)}
            if wait:
                break
        return found, bound.get("max_id"), wait

    async def _page(
        self, http: httpx.AsyncClient, stream: str, bound: dict[str, str]
    ) -> tuple[list[dict[str, Any]], float | None]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        params: dict[str, Any] = {"limit": self.page_size, **bound}
        if stream == "search":
            url = f"{self.base_url}/api/v2/search"
            params = {"q": self.query, "type": "statuses", **params}
        else:
            url = f"{self.base_url}/api/v1/timelines/tag/{stream.removeprefix('tag:')}"
        now = self.clock()
        response = await get(
            http, self.name, url, params=params, headers=headers, limit=LIMIT, now=now
        )
        body = json_body(response, self.name)
        items = as_dict(body).get("statuses") if stream == "search" else body
        if not isinstance(items, list):
            raise SourceError(f"{self.name}: unexpected answer from {stream}")
        statuses = [s for s in items if isinstance(s, dict) and isinstance(s.get("id"), str)]
        return statuses, pause_for(response, LIMIT, now, self.every)

    def _edited(self, status: dict[str, Any]) -> float | None:
        """When the post was last edited (``edited_at``), else written; None if unknown."""
        original = as_dict(status.get("reblog")) or status
        stamp = original.get("edited_at") or original.get("created_at")
        return parse_time(stamp, self.clock()).timestamp() if stamp else None

    def _mention(self, status: dict[str, Any]) -> Mention | None:
        """The post (a boost stands for its original); one mention per ``uri`` per poll."""
        original = as_dict(status.get("reblog")) or status
        uri = str(original.get("uri") or original.get("url") or "")
        if not uri:
            return None
        account = as_dict(original.get("account"))
        acct = str(account.get("acct") or account.get("username") or "")
        if acct and "@" not in acct and self.instance:
            acct = f"{acct}@{self.instance}"
        text = join(
            tidy(str(original.get("spoiler_text") or "")), html_to_text(original.get("content"))
        )
        now: datetime = self.clock()
        return self.mention(
            uri,
            url=original.get("url"),
            fallback_url=uri,
            handle=acct,
            name=tidy(str(account.get("display_name") or "")),
            followers=account.get("followers_count"),
            text=text,
            created_at=parse_time(original.get("created_at"), now),
            lang=language(original.get("language")),
            raw=kept(status, RAW_FIELDS),
        )
