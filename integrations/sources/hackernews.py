"""Hacker News through Algolia's ``search_by_date``: stories and comments, newest first.

No cursor: each poll asks for ``created_at_i`` from the watermark (minus an overlap, since
items are indexed late) and walks ``page`` until the last one; ids seen near the watermark are
skipped, so the hit that shifts onto the next page while we read is reported once. Text is
HTML (``<p>``, ``&#x27;``); ``_highlightResult`` is never used. No rate-limit headers exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from integrations.sources._base import (
    BaseSource,
    Latest,
    Walk,
    as_dict,
    as_list,
    dump_cursor,
    in_turns,
    kept,
    load_cursor,
    partial_result,
)
from integrations.sources._http import get, json_body
from integrations.sources._options import Text
from integrations.sources._resume import ResumableWalk
from integrations.sources._text import html_to_text, join, parse_time, unescape
from integrations.sources.hackernews_public import HackerNewsPublic, HackerNewsPublicOptions
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

ITEM_URL = "https://news.ycombinator.com/item?id="
#: What a stored case keeps of a search hit (``raw``): its ids and the story's link.
RAW_FIELDS = ("objectID", "story_id", "parent_id", "url")


class HackerNewsOptions(HackerNewsPublicOptions):
    tags: Text = "(story,comment)"  # Algolia tag filter


class HackerNewsSource(BaseSource, HackerNewsPublic):
    kind = "hackernews"
    default_base_url = "https://hn.algolia.com"
    default_page_size = 50
    options_model = HackerNewsOptions
    options: HackerNewsOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tags = self.options.tags

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        resumable = ResumableWalk(load_cursor(cursor, self.name), self.overlap, self.floor())
        walk = resumable.walk
        since = resumable.since
        start = int(since if since is not None else self.floor().timestamp())
        first = 0
        if isinstance(go_on := resumable.start, dict):  # the same query, from the page it left
            first, start = int(go_on.get("page") or 0), int(go_on.get("from") or start)
        latest = Latest()
        errors: list[tuple[str, SourceError]] = []
        stopped: dict[str, int] | None = None  # where to go on, when the walk stops early
        for page in range(first, first + self.max_pages):
            now = self.clock()
            try:
                body = await self._page(http, start, page, now)
            except SourceError as exc:
                if page == first:
                    raise
                errors.append((f"page {page}", exc))  # keep the pages read; go on later
                stopped = {"page": page, "from": start}
                break
            async for hit in in_turns(map(as_dict, as_list(body.get("hits")))):
                edited = parse_time(hit.get("updated_at"), now) if hit.get("updated_at") else None
                latest.offer(self._take(walk, hit, now), edited.timestamp() if edited else None)
            pages = body.get("nbPages")
            if walk.reached_known or not isinstance(pages, int) or page >= pages - 1:
                stopped = None
                break
            stopped = {"page": page + 1, "from": start}  # max_pages: go on next time
        else:
            walk.note_truncated(self.name, self.max_pages)
        cursor_text = dump_cursor(resumable.dump(stopped))
        return partial_result(latest, cursor_text, None, errors, len(errors) + 1)

    async def _page(
        self, http: httpx.AsyncClient, start: int, page: int, now: datetime
    ) -> dict[str, Any]:
        params = {
            "query": self.query,
            "tags": self.tags,
            "numericFilters": f"created_at_i>{start - 1}",
            "hitsPerPage": self.page_size,
            "page": page,
        }
        url = f"{self.base_url}/api/v1/search_by_date"
        response = await get(http, self.name, url, params=params, now=now)
        body = as_dict(json_body(response, self.name))
        if "hits" not in body:
            raise SourceError(f"{self.name}: unexpected answer (no hits)")
        return body

    def _take(self, walk: Walk, hit: dict[str, Any], now: datetime) -> Mention | None:
        object_id = str(hit.get("objectID") or "")
        at = hit.get("created_at_i")
        if not object_id or not isinstance(at, int | float):
            return None
        if not (walk.take(object_id, float(at)) or walk.took(object_id)):
            return None
        if "comment" in as_list(hit.get("_tags")) or hit.get("comment_text"):
            text = html_to_text(hit.get("comment_text"))
        else:
            text = join(unescape(hit.get("title")), html_to_text(hit.get("story_text")))
        if not text:
            return None  # deleted or dead: nothing left to triage
        return self.mention(
            object_id,
            url=f"{ITEM_URL}{object_id}",
            fallback_url=f"{ITEM_URL}{object_id}",
            handle=str(hit.get("author") or ""),
            text=text,
            created_at=parse_time(at, now),
            raw=kept(hit, RAW_FIELDS),
        )
