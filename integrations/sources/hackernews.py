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
    Watermark,
    as_dict,
    as_list,
    dump_cursor,
    load_cursor,
)
from integrations.sources._http import get, json_body
from integrations.sources._options import SourceOptions, Text
from integrations.sources._text import html_to_text, join, parse_time, unescape
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

ITEM_URL = "https://news.ycombinator.com/item?id="


class HackerNewsOptions(SourceOptions):
    tags: Text = "(story,comment)"  # Algolia tag filter


class HackerNewsSource(BaseSource):
    kind = "hackernews"
    default_base_url = "https://hn.algolia.com"
    default_page_size = 50
    options_model = HackerNewsOptions
    options: HackerNewsOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tags = self.options.tags

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        mark = Watermark.load(state, self.overlap)
        walk = Walk(mark, self.floor())
        start = mark.since if mark.since is not None else self.floor().timestamp()
        latest = Latest()
        url = f"{self.base_url}/api/v1/search_by_date"
        for page in range(self.max_pages):
            params = {
                "query": self.query,
                "tags": self.tags,
                "numericFilters": f"created_at_i>{int(start) - 1}",
                "hitsPerPage": self.page_size,
                "page": page,
            }
            now = self.clock()
            body = as_dict(
                json_body(await get(http, self.name, url, params=params, now=now), self.name)
            )
            if "hits" not in body:
                raise SourceError(f"{self.name}: unexpected answer (no hits)")
            for hit in map(as_dict, as_list(body.get("hits"))):
                edited = parse_time(hit.get("updated_at"), now) if hit.get("updated_at") else None
                latest.offer(self._take(walk, hit, now), edited.timestamp() if edited else None)
            pages = body.get("nbPages")
            if walk.reached_known or not isinstance(pages, int) or page >= pages - 1:
                break
        else:
            walk.note_truncated(self.name, self.max_pages)
        return PollResult(latest.mentions(), dump_cursor(walk.mark.dump()))

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
            raw={k: v for k, v in hit.items() if k != "_highlightResult"},
        )
