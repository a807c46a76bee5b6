"""X (Twitter) API v2 recent search, with an app bearer token.

Polling sends ``since_id`` = the first page's ``meta.newest_id`` of the previous poll, and
moves it only after the last page was read. Authors come from the ``author_id`` expansion
(``includes.users``: handle, name, followers); a missing author (suspended, protected) leaves
the handle unknown. ``text`` is HTML-escaped and decoded once; ``note_tweet.text`` holds the
full text of long posts. An edit has a new id but lists every version in
``edit_history_tweet_ids``: the first one is the mention's id, so an edit is not a second
mention. When ``max_pages`` (or a rate limit) stops a walk early, the cursor keeps the
``next_token`` and the next poll finishes the walk before ``since_id`` moves. The rate-limit
reset header is a Unix epoch.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
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
    in_turns,
    kept,
    load_cursor,
    partial_result,
)
from integrations.sources._http import (
    RateLimit,
    ResetStyle,
    body_text,
    get,
    json_body,
    pause_for,
    snippet,
)
from integrations.sources._options import Text
from integrations.sources._text import language, parse_time, unescape
from integrations.sources.x_public import XPublic, XPublicOptions
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult, brand_handles, minimal_keywords

log = logging.getLogger(__name__)
#: Recent search reaches back seven days; older since_id and start_time values are refused.
SEARCH_WINDOW = timedelta(days=7)
LIMIT = RateLimit("x-rate-limit-remaining", "x-rate-limit-reset", ResetStyle.EPOCH)
#: What a stored case keeps of a tweet (``raw``): the ids a reply, a thread read and an edited
#: copy are matched by (``x_public``), and the author's id.
RAW_FIELDS = ("id", "conversation_id", "edit_history_tweet_ids", "author_id")
FIELDS = {
    "tweet.fields": "created_at,author_id,public_metrics,lang,note_tweet,conversation_id",
    "expansions": "author_id",
    "user.fields": "username,name,public_metrics",
}


class XOptions(XPublicOptions):
    bearer_token_env: Text | None = None


class XSource(BaseSource, XPublic):
    kind = "x"
    default_base_url = "https://api.x.com"
    default_page_size = 100
    options_model = XOptions
    options: XOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = self.credential("bearer_token_env", "X_BEARER_TOKEN")
        self._init_public()
        if not 10 <= self.page_size <= 100:
            raise self.bad_option("page_size", "must be between 10 and 100 for X")

    def default_query(self) -> str:
        terms = [f'"{w}"' if " " in w else w for w in minimal_keywords(self.brand)]
        terms += [f"@{h}" for h in brand_handles(self.brand)[:3]]
        return f"({' OR '.join(terms)}) -is:retweet"

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        try:
            return await self._poll(http, state)
        except StaleSinceId as exc:  # older than the search window: read the backfill window
            log.warning("source %s: %s; reading the backfill window instead", self.name, exc)
            state.pop("since_id", None)
            state.pop("resume", None)
            return await self._poll(http, state)

    async def _poll(self, http: httpx.AsyncClient, state: dict[str, Any]) -> PollResult:
        since_id = state.get("since_id") if isinstance(state.get("since_id"), str) else None
        walk = Walk(Watermark(), self.floor()) if since_id is None else None
        latest = Latest()
        seen: set[str] = set()
        resume = as_dict(state.get("resume"))  # pages left over from the previous poll
        newest = resume.get("newest_id") if isinstance(resume.get("newest_id"), str) else None
        token = resume.get("next_token") if isinstance(resume.get("next_token"), str) else None
        start = resume.get("start_time") if isinstance(resume.get("start_time"), str) else None
        if since_id is None and start is None:  # the first walk: the backfill window only
            start = self._start_time()
        wait: float | None = None
        errors: list[tuple[str, SourceError]] = []
        for page in range(self.max_pages):
            try:
                body, wait = await self._page(http, since_id, token, start)
            except SourceError as exc:
                if page == 0:
                    raise
                errors.append((f"page {page + 1}", exc))  # keep the pages read; go on later
                break
            meta = as_dict(body.get("meta"))
            newest = newest or (
                meta.get("newest_id") if isinstance(meta.get("newest_id"), str) else None
            )
            users = {
                str(u.get("id")): u for u in as_list(as_dict(body.get("includes")).get("users"))
            }
            async for tweet in in_turns(map(as_dict, as_list(body.get("data")))):
                latest.offer(self._mention(tweet, users, seen, walk), edit_number(tweet))
            token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
            if not token or wait or (walk is not None and walk.reached_known):
                break
        if token and not (walk is not None and walk.reached_known):
            state["resume"] = {  # finish them next time, with the same query
                "next_token": token,
                "newest_id": newest,
                "start_time": None if since_id else start,
            }
        else:
            state.pop("resume", None)
            state["since_id"] = max(
                [i for i in (since_id, newest) if i], key=lambda i: (len(i), i), default=None
            )
        return partial_result(latest, dump_cursor(state), wait, errors, len(errors) + 1)

    def _start_time(self) -> str:
        """The backfill window's start, inside the week recent search covers."""
        now = self.clock()
        start = max(self.floor(), now - SEARCH_WINDOW + timedelta(minutes=1))
        return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def _page(
        self, http: httpx.AsyncClient, since_id: str | None, token: str | None, start: str | None
    ) -> tuple[dict[str, Any], float | None]:
        params: dict[str, Any] = {"query": self.query, "max_results": self.page_size, **FIELDS}
        if since_id:
            params["since_id"] = since_id
        elif start:
            params["start_time"] = start
        if token:
            params["next_token"] = token
        now = self.clock()
        response = await get(
            http,
            self.name,
            f"{self.base_url}/2/tweets/search/recent",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            limit=LIMIT,
            now=now,
            ok=(200, 400),
        )
        if response.status_code == 400:
            text = body_text(response)
            if since_id and "since_id" in text:
                raise StaleSinceId(f"since_id {since_id} refused: {snippet(response)}")
            raise SourceError(
                f"{self.name}: HTTP 400 on /2/tweets/search/recent: {snippet(response)}"
            )
        return as_dict(json_body(response, self.name)), pause_for(response, LIMIT, now, self.every)

    def _mention(
        self, tweet: dict[str, Any], users: dict[str, Any], seen: set[str], walk: Walk | None
    ) -> Mention | None:
        tweet_id = str(tweet.get("id") or "")
        history = [str(i) for i in as_list(tweet.get("edit_history_tweet_ids"))] or [tweet_id]
        first = history[0]
        now: datetime = self.clock()
        created = parse_time(tweet.get("created_at"), now)
        if not tweet_id:
            return None
        if first not in seen:  # a later version of a post already taken goes on to replace it
            if walk is not None and not walk.take(first, created.timestamp()):
                return None
            seen.add(first)
        user = as_dict(users.get(str(tweet.get("author_id"))))
        username = str(user.get("username") or "")
        note = as_dict(tweet.get("note_tweet")).get("text")
        text = unescape(note if isinstance(note, str) and note else str(tweet.get("text") or ""))
        return self.mention(
            first,
            url=f"https://x.com/{username or 'i'}/status/{tweet_id}",
            fallback_url=f"https://x.com/i/status/{tweet_id}",
            handle=username,
            name=str(user.get("name") or ""),
            followers=as_dict(user.get("public_metrics")).get("followers_count"),
            text=text,
            created_at=created,
            lang=language(tweet.get("lang")),
            raw=kept(tweet, RAW_FIELDS),
        )


def edit_number(tweet: dict[str, Any]) -> float:
    """Which version of its post a tweet is: its place in ``edit_history_tweet_ids``."""
    history = [str(i) for i in as_list(tweet.get("edit_history_tweet_ids"))]
    tweet_id = str(tweet.get("id") or "")
    return float(history.index(tweet_id)) if tweet_id in history else 0.0


class StaleSinceId(SourceError):
    """X refused the saved ``since_id``: it is older than the recent-search window."""
