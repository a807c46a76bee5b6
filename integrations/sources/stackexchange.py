"""Stack Exchange: ``/2.3/search/advanced`` on one site, newest questions first.

``site`` names the site (``outdoors``); ``key_env`` optionally names a variable with an app
key (a larger daily quota). Each poll asks from ``fromdate`` = the watermark minus an overlap
and walks ``page`` while ``has_more``. Stack Exchange asks for pauses inside *successful*
answers (``backoff``: wait that many seconds before calling the method again) and reports
every error as HTTP 400 with ``error_name`` (``throttle_violation`` says how long to wait in
its message); a spent daily quota waits until the next UTC day. Titles and names are
HTML-encoded, bodies are HTML.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from pydantic import Field, StrictInt

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
from integrations.sources.stackexchange_public import (
    WAIT_SAID,
    StackExchangePublic,
    StackExchangePublicOptions,
)
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

#: What a stored case keeps of a question (``raw``): its id and link (replies and thread reads
#: go by the mention's URL).
RAW_FIELDS = ("question_id", "link")


class StackExchangeOptions(StackExchangePublicOptions):
    site: Text | None = None  # required: the site's API name (outdoors)
    key_env: Text | None = None
    #: Requests of the daily quota kept back: at this many left, polling waits for the reset.
    quota_floor: Annotated[StrictInt, Field(ge=0)] = 10


class StackExchangeSource(BaseSource, StackExchangePublic):
    kind = "stackexchange"
    default_base_url = "https://api.stackexchange.com"
    options_model = StackExchangeOptions
    options: StackExchangeOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site = self.options.site
        if not site:
            raise self.bad_option("site", "the Stack Exchange site is required (e.g. outdoors)")
        self.site = site
        self.key = self.credential("key_env", "STACKEXCHANGE_KEY", required=False)
        self._init_public()

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        resumable = ResumableWalk(load_cursor(cursor, self.name), self.overlap, self.floor())
        walk = resumable.walk
        since = resumable.since
        start = int(since if since is not None else self.floor().timestamp())
        first = 1
        if isinstance(go_on := resumable.start, dict):  # the same query, from the page it left
            first, start = int(go_on.get("page") or 1), int(go_on.get("from") or start)
        latest = Latest()
        wait: float | None = None
        why: str | None = None
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
            async for item in in_turns(map(as_dict, as_list(body.get("items")))):
                edited = item.get("last_edit_date") or item.get("creation_date")
                latest.offer(
                    self._take(walk, item, now),
                    float(edited) if isinstance(edited, int | float) else None,
                )
            wait, why = self._pause_why(body, now)
            if walk.reached_known or body.get("has_more") is not True:
                stopped = None  # the walk is complete
                break
            stopped = {"page": page + 1, "from": start}  # a backoff or max_pages: go on later
            if wait:
                break
        else:
            walk.note_truncated(self.name, self.max_pages)
        cursor_text = dump_cursor(resumable.dump(stopped))
        return partial_result(
            latest, cursor_text, wait, errors, len(errors) + 1, pause_reason=why if wait else None
        )

    async def _page(
        self, http: httpx.AsyncClient, start: int, page: int, now: datetime
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "order": "desc",
            "sort": "creation",
            "q": self.query,
            "site": self.site,
            "filter": "withbody",
            "pagesize": self.page_size,
            "page": page,
            "fromdate": start,
        }
        if self.key:
            params["key"] = self.key
        url = f"{self.base_url}/2.3/search/advanced"
        response = await get(http, self.name, url, params=params, now=now, ok=(200, 400))
        body = as_dict(json_body(response, self.name))
        if response.status_code == 400 or "error_id" in body:
            name = body.get("error_name") or "error"
            message = str(body.get("error_message") or "")
            match = WAIT_SAID.search(message)
            wait = float(match.group(1)) if match else self._pause(body, now)
            raise SourceError(f"{self.name}: {name}: {message[:160]}", retry_after=wait)
        return body

    def _pause(self, body: dict[str, Any], now: datetime) -> float | None:
        return self._pause_why(body, now)[0]

    def _pause_why(self, body: dict[str, Any], now: datetime) -> tuple[float | None, str | None]:
        """How long to wait, and why: a ``backoff`` asked for; the daily quota at its floor
        (wait for the reset at 00:00 UTC); or the quota left above the floor spread until the
        reset when the interval would spend it sooner."""
        backoff = body.get("backoff")
        if isinstance(backoff, int | float) and backoff > 0:
            return float(backoff), f"Stack Exchange asked for a backoff of {backoff:g} s"
        left = body.get("quota_remaining")
        if not isinstance(left, int) or isinstance(left, bool):
            return None, None
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        until_reset = (tomorrow - now).total_seconds()
        floor = self.options.quota_floor
        if left <= floor:
            return until_reset, (
                f"daily quota down to {left} (quota_floor {floor}): waits for the reset "
                "at 00:00 UTC"
            )
        spread = until_reset / (left - floor)
        if spread > self.every:
            return spread, f"daily quota {left} left: spread until the reset at 00:00 UTC"
        return None, None

    def _take(self, walk: Walk, item: dict[str, Any], now: datetime) -> Mention | None:
        question_id = item.get("question_id")
        at = item.get("creation_date")
        if not isinstance(question_id, int) or not isinstance(at, int | float):
            return None
        if not (walk.take(str(question_id), float(at)) or walk.took(str(question_id))):
            return None
        owner = as_dict(item.get("owner"))
        name = unescape(str(owner.get("display_name") or ""))
        user_id = owner.get("user_id")
        return self.mention(
            str(question_id),
            url=item.get("link"),
            fallback_url=f"https://{self.site}.stackexchange.com/q/{question_id}",
            handle=name or (str(user_id) if isinstance(user_id, int) else None),
            name=name,
            text=join(unescape(item.get("title")), html_to_text(item.get("body"))),
            created_at=parse_time(at, now),
            raw=kept(item, RAW_FIELDS),
        )
