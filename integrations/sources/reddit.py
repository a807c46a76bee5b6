"""Reddit: the search listing (``/search.json``, ``sort=new``) and, optionally, the newest
comments of the brand's own subreddits (the API has no comment search).

Anonymous ``.json`` (trials) or OAuth (``reddit_oauth``); ``raw_json=1`` keeps ``<``, ``>`` and
``&`` unescaped, so titles and bodies are plain text as they are. Paging walks ``after`` until
it reaches posts behind the watermark (the newest time seen, with the names seen near it); the
same post on two pages is reported once. The rate-limit reset header counts *seconds*, and a
throttled anonymous call can come back as HTTP 200 with the 429 body.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations.sources._base import (
    BaseSource,
    Latest,
    as_dict,
    as_list,
    dump_cursor,
    in_turns,
    kept,
    load_cursor,
    partial_result,
)
from integrations.sources._http import (
    RateLimit,
    ResetStyle,
    json_body,
    pause_for,
    reset_seconds,
)
from integrations.sources._options import Text
from integrations.sources._resume import ResumableWalk
from integrations.sources._text import join, parse_time, tidy
from integrations.sources.reddit_oauth import reddit_access
from integrations.sources.reddit_public import RedditPublic, RedditPublicOptions
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult, minimal_keywords

LIMIT = RateLimit("x-ratelimit-remaining", "x-ratelimit-reset", ResetStyle.SECONDS)
_GONE = {"[deleted]", "[removed]"}
#: What a stored case keeps of a thing (``raw``): its fullname and post a reply and a thread read
#: name (``reddit_public``), its other ids and its URLs.
RAW_FIELDS = ("name", "id", "link_id", "parent_id", "permalink", "url")
_PERIODS = (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 31 * 86400))


class RedditOptions(RedditPublicOptions):
    subreddit: Text | None = None  # search only this subreddit
    comments_subreddits: list[Text] = []  # also read the newest comments of these
    site_url: Text = "https://www.reddit.com"  # where post links point


class RedditSource(BaseSource, RedditPublic):
    kind = "reddit"
    default_base_url = "https://www.reddit.com"
    default_page_size = 100
    options_model = RedditOptions
    options: RedditOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = self.options.site_url.rstrip("/")
        self.comment_subs = [s.removeprefix("r/") for s in self.options.comments_subreddits]
        self.subreddit = self.options.subreddit
        self.access, api = reddit_access(self.name, self.options, self.env, self.config.base_url)
        self.base_url = api or self.base_url  # OAuth calls go to oauth.reddit.com
        self._init_public()

    def default_query(self) -> str:
        words = minimal_keywords(self.brand)
        return " OR ".join(f'"{w}"' if " " in w else w for w in words)

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        latest = Latest()
        pause: float | None = None
        errors: list[tuple[str, SourceError]] = []
        streams = [("search", self._search_url())]
        streams += [
            (f"comments:{s}", f"{self.base_url}/r/{s}/comments.json") for s in self.comment_subs
        ]
        parts = len(streams)
        for key, url in streams:
            saved = as_dict(state.get(key))
            try:
                state[key], wait, failed = await self._walk(http, url, key, saved, latest)
            except SourceError as exc:  # the other streams' posts are still ingested
                errors.append((key, exc))
                continue
            if failed is not None:  # a later page failed: its pages wait for the next poll
                errors.append((key, failed))
                parts += 1
            pause = max(pause or 0.0, wait or 0.0) or None
        return partial_result(latest, dump_cursor(state), pause, errors, parts)

    def _search_url(self) -> str:
        if self.subreddit:
            return f"{self.base_url}/r/{self.subreddit}/search.json"
        return f"{self.base_url}/search.json"

    def _params(
        self, search: bool, since: float | None, after: str | None, count: int
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self.page_size, "raw_json": 1}
        if search:
            params = {
                "q": self.query,
                "sort": "new",
                "t": self._period(since),
                "type": "link",
                **params,
            }
            if self.subreddit:
                params["restrict_sr"] = 1
        if after:
            params.update(after=after, count=count)
        return params

    def _period(self, since: float | None) -> str:
        now = self.clock().timestamp()
        oldest = since if since is not None else self.floor().timestamp()
        for name, seconds in _PERIODS:
            if now - oldest <= seconds:
                return name
        return "year"

    async def _walk(
        self, http: httpx.AsyncClient, url: str, key: str, saved: dict[str, Any], latest: Latest
    ) -> tuple[dict[str, Any], float | None, SourceError | None]:
        """One stream's pages, newest first, into ``latest``; its cursor, the pause asked for,
        and the error of a later page (the walk goes on from that page next time)."""
        resumable = ResumableWalk(saved, self.overlap, self.floor())
        walk = resumable.walk
        go_on = as_dict(resumable.start)
        after = go_on.get("after") if isinstance(go_on.get("after"), str) else None
        count = int(go_on.get("count") or 0)
        wait: float | None = None
        failed: SourceError | None = None
        for page in range(self.max_pages):
            now = self.clock()
            params = self._params(key == "search", resumable.since, after, count)
            try:
                response = await self.access.get(http, url, params=params, limit=LIMIT, now=now)
                data = self._listing(json_body(response, self.name), response)
            except SourceError as exc:
                if page == 0:
                    raise
                failed = exc
                break
            wait = pause_for(response, LIMIT, now, self.every)
            count += len(as_list(data.get("children")))
            async for child in in_turns(as_list(data.get("children"))):
                item = as_dict(as_dict(child).get("data"))
                name = str(item.get("name") or "")
                at = item.get("created_utc")
                if not name or not isinstance(at, int | float):
                    continue
                if why := _gone(item):  # seen deleted: never a case, a note on an open one
                    walk.take(name, float(at))
                    latest.gone(self.gone_post(name, why))
                elif walk.take(name, float(at)) or walk.took(name):
                    latest.offer(self._mention(item, name, now), _edited(item))
            after = data.get("after") if isinstance(data.get("after"), str) else None
            if walk.reached_known or not after or wait:
                break
        else:
            walk.note_truncated(self.name, self.max_pages)
        stopped = {"after": after, "count": count} if after and not walk.reached_known else None
        return resumable.dump(stopped), wait, failed

    def _listing(self, body: Any, response: httpx.Response) -> dict[str, Any]:
        body = as_dict(body)
        if body.get("error") == 429 or body.get("message") == "Too Many Requests":
            reset = response.headers.get(LIMIT.reset)
            wait = reset_seconds(reset, LIMIT.style, self.clock()) or 60.0
            raise SourceError(f"{self.name}: rate limited (429 in a 200 answer)", retry_after=wait)
        if body.get("kind") != "Listing":
            raise SourceError(f"{self.name}: unexpected answer (no Listing)")
        return as_dict(body.get("data"))

    def _mention(self, item: dict[str, Any], name: str, now: Any) -> Mention:
        author = str(item.get("author") or "")
        if name.startswith("t1_"):
            text = _clean(item.get("body"))
        else:
            text = join(_clean(item.get("title")), _clean(item.get("selftext")))
        permalink = str(item.get("permalink") or "")
        return self.mention(
            name,
            url=f"{self.site}{permalink}" if permalink.startswith("/") else None,
            fallback_url=f"{self.site}/comments/{name.partition('_')[2]}",
            handle=None if author in _GONE else author,
            text=text,
            created_at=parse_time(item.get("created_utc"), now),
            raw=kept(item, RAW_FIELDS),
        )


def _gone(item: dict[str, Any]) -> str | None:
    """How the post is gone (deleted by its author, removed by moderators), or None."""
    if item.get("removed_by_category"):
        return f"removed ({str(item['removed_by_category'])[:40]})"
    body = item.get("body") if str(item.get("name", "")).startswith("t1_") else item.get("selftext")
    text = body.strip() if isinstance(body, str) else ""
    if text == "[removed]":
        return "removed by moderators"
    if text == "[deleted]" or item.get("author") == "[deleted]":
        return "deleted"
    return None


def _edited(item: dict[str, Any]) -> float | None:
    """When the post was last edited (``edited`` is false or an epoch), else its creation."""
    edited = item.get("edited")
    if isinstance(edited, int | float) and not isinstance(edited, bool):
        return float(edited)
    created = item.get("created_utc")
    return float(created) if isinstance(created, int | float) else None


def _clean(value: object) -> str:
    text = tidy(value) if isinstance(value, str) else ""
    return "" if text in _GONE else text
