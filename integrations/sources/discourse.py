"""Discourse forums: ``/search.json`` for the brand's keywords and/or the latest posts.

``base_url`` is the forum. Search asks for ``<query> order:latest`` (newest posts first), from
the day before the watermark (``after:`` counts whole days), and walks ``page`` while
``more_full_page_results`` says there is more, until posts behind the watermark. A search hit
carries an excerpt (``blurb``) of the post and its topic's title; with ``full_text`` each new
hit's whole post is fetched (``/posts/{id}.json``, one call each). ``latest_posts`` reads
``/posts.json`` (the forum's newest posts, whole, as ``cooked`` HTML), walking back with
``before`` to the newest post id seen: ``"all"`` takes every post (a forum about the brand),
``"matching"`` those naming a keyword or handle of the brand. A private forum or more quota
needs an API key (``Api-Key`` and ``Api-Username`` headers). A throttled call answers 429
with ``Retry-After`` (and the wait in the body); a walk cut short goes on at the next poll.
Deleted, withdrawn and hidden posts are not mentions but are reported gone (a case made from
one earlier gets a note); nor are posts without words. A post found by both streams is one
mention, with the whole text of the latest posts rather than the search excerpt.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import StrictBool

from integrations.sources._base import (
    BaseSource,
    Latest,
    as_dict,
    as_list,
    dump_cursor,
    in_turns,
    kept,
    load_cursor,
)
from integrations.sources._http import get, json_body, retry_after_header, snippet
from integrations.sources._options import Text
from integrations.sources._resume import ResumableWalk
from integrations.sources._text import html_to_text, join, parse_time, tidy
from integrations.sources.discourse_public import DiscoursePublic, DiscoursePublicOptions
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult, brand_handles, minimal_keywords

log = logging.getLogger(__name__)

KEY_VARIABLE = "DISCOURSE_API_KEY"
#: What a stored case keeps of a post (``raw``): its id, and the topic and post number a reply
#: and a thread read name (``discourse_public``).
RAW_FIELDS = ("id", "topic_id", "post_number")
_OK = (200, 400, 403, 404, 422, 429)
_GONE = re.compile(r"^\(?post (deleted|withdrawn|hidden)\b", re.IGNORECASE)  # Discourse's words
_REGULAR = 1  # post type; 2 moderator action, 3 small action, 4 whisper
_WHOLE = ("cooked", "updated_at", "deleted_at", "user_deleted", "hidden")
#: A search hit kept for fetching its whole post: the post, its topic, the topic's title.
Hit = tuple[dict[str, Any], dict[str, Any], str]
#: What cut a walk short: where, and the error.
Stop = tuple[str, SourceError]


class _NotFound(SourceError):
    """The forum answered 404 (a post deleted since it was listed)."""


class DiscourseOptions(DiscoursePublicOptions):
    search: StrictBool = True  # /search.json for the query
    latest_posts: Literal["off", "matching", "all"] = "off"  # /posts.json
    full_text: StrictBool = False  # search hits: fetch each new post whole (one call each)
    api_key_env: Text | None = None  # default DISCOURSE_API_KEY, used when set
    api_username: Text = "system"


class DiscourseSource(BaseSource, DiscoursePublic):
    kind = "discourse"
    options_model = DiscourseOptions
    options: DiscourseOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.config.base_url:
            raise self.bad_option("base_url", "the forum's address is required")
        if not self.options.search and self.options.latest_posts == "off":
            raise self.bad_option("search", "nothing to poll: set search or latest_posts")
        named = self.options.api_key_env is not None
        self.api_key = self.credential("api_key_env", KEY_VARIABLE, required=named)
        self._init_public()
        words = [re.escape(w) for w in minimal_keywords(self.brand)]
        words += [re.escape("@" + h) for h in brand_handles(self.brand)]
        self._brand = re.compile(rf"(?<!\w)(?:{'|'.join(words)})(?!\w)", re.IGNORECASE)

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        state = load_cursor(cursor, self.name)
        latest = Latest()  # one post found by both streams is one mention, the whole text kept
        streams = (["search"] if self.options.search else []) + (
            ["latest"] if self.options.latest_posts != "off" else []
        )
        failed: list[SourceError] = []
        problems: list[tuple[str, SourceError]] = []  # what failed, or cut a walk short
        for stream in streams:
            walker = self._search if stream == "search" else self._latest
            try:
                state[stream], stop = await walker(http, as_dict(state.get(stream)), latest)
            except SourceError as exc:  # the other stream's posts still count
                log.warning("source %s: %s failed: %s", self.name, stream, exc)
                failed.append(exc)
                problems.append((stream, exc))
                continue
            if stop is not None:
                problems.append(stop)
        if failed and len(failed) == len(streams):
            raise failed[0]
        waits = [e.retry_after for _, e in problems if e.retry_after]
        said = [f"{part}: {self._short(e)}" for part, e in problems]
        reason = "; ".join(s for (_, e), s in zip(problems, said, strict=True) if e.retry_after)
        return PollResult(
            latest.mentions(),
            dump_cursor(state),
            max(waits) if waits else None,
            reason or None,
            latest.gone_posts(),
            said,
        )

    def _short(self, exc: SourceError) -> str:
        return str(exc).removeprefix(f"{self.name}: ")

    # --- search --------------------------------------------------------------------------
    async def _search(
        self, http: httpx.AsyncClient, saved: dict[str, Any], latest: Latest
    ) -> tuple[dict[str, Any], Stop | None]:
        """Walk the search pages: the new cursor, and what cut the walk short."""
        walk = ResumableWalk(saved, self.overlap, self.floor())
        page = walk.start if _is_id(walk.start) else 1
        hits: list[Hit] = []
        for count in range(self.max_pages):
            try:
                params = {"q": self._query(walk), "page": page}
                body = await self._get(http, "/search.json", params)
                more = self._search_page(walk, body, latest, hits)
            except SourceError as exc:
                if count == 0 and walk.start is not None and exc.retry_after is None:
                    log.warning("source %s: search page %d gone (%s); afresh", self.name, page, exc)
                    walk.abandon()
                    page = 1
                    continue
                if count == 0:
                    raise
                log.warning("source %s: search stopped at page %d: %s", self.name, page, exc)
                if exc.retry_after is None:  # throttled: the excerpts will do
                    await self._whole_posts(http, walk, hits, latest)
                return walk.dump(stopped_at=page), (f"search stopped at page {page}", exc)
            if walk.reached_known or not more:
                return walk.dump(), await self._whole_posts(http, walk, hits, latest)
            page += 1
        walk.walk.note_truncated(self.name, self.max_pages)
        return walk.dump(stopped_at=page), await self._whole_posts(http, walk, hits, latest)

    async def _whole_posts(
        self, http: httpx.AsyncClient, walk: ResumableWalk, hits: list[Hit], latest: Latest
    ) -> Stop | None:
        """With ``full_text``, each new hit's whole post (``/posts/{id}.json``) replaces its
        excerpt; a refusal keeps the excerpts of the rest (and is returned)."""
        for post, topic, title in hits if self.options.full_text else []:
            post_id = _id(post)
            try:
                body = await self._get(http, f"/posts/{post_id}.json", {})
            except _NotFound:
                latest.gone(self.gone_post(str(post_id), "deleted"))
                continue
            except SourceError as exc:
                log.warning("source %s: whole posts stopped, excerpts kept: %s", self.name, exc)
                return "excerpts kept", exc
            whole = post | {k: body.get(k) for k in _WHOLE if k in body}
            text = html_to_text(body.get("cooked"))
            edited = parse_time(body.get("updated_at"), self.clock()).timestamp()
            self._offer(walk, whole, topic, title, text, latest=latest, edited=edited)
        return None

    def _query(self, walk: ResumableWalk) -> str:
        """The search, newest first, from the day before the walk's watermark."""
        since = walk.since if walk.since is not None else self.floor().timestamp()
        day = (datetime.fromtimestamp(since, UTC) - timedelta(days=1)).date().isoformat()
        return f"{self.query} order:latest after:{day}"

    def _search_page(
        self, walk: ResumableWalk, body: dict[str, Any], latest: Latest, hits: list[Hit]
    ) -> bool:
        """Offer the page's new posts (noted in ``hits``); True if the forum has another page."""
        result = as_dict(body.get("grouped_search_result"))
        if result.get("error"):
            raise SourceError(f"{self.name}: search refused: {str(result['error'])[:160]}")
        posts = body.get("posts")
        if posts is not None and not isinstance(posts, list):
            raise SourceError(f"{self.name}: unexpected answer (posts is not a list)")
        topics = {t.get("id"): t for t in map(as_dict, as_list(body.get("topics")))}
        for post in map(as_dict, posts or []):
            topic = as_dict(topics.get(post.get("topic_id")))
            raw_title = topic.get("title")  # plain text; the headline is HTML with highlights
            title = (
                tidy(raw_title)
                if isinstance(raw_title, str) and raw_title.strip()
                else html_to_text(str(post.get("topic_title_headline") or ""))
            )
            if self._offer(
                walk, post, topic, title, html_to_text(post.get("blurb")), latest=latest
            ):
                hits.append((post, topic, title))
        return bool(result.get("more_full_page_results"))

    # --- latest posts ----------------------------------------------------------------------
    async def _latest(
        self, http: httpx.AsyncClient, saved: dict[str, Any], latest: Latest
    ) -> tuple[dict[str, Any], Stop | None]:
        """Walk back through ``/posts.json`` to the newest post of the last complete walk."""
        walk = ResumableWalk(saved, self.overlap, self.floor())
        last = _number(saved.get("last_id"))
        newest = max(last, _number(saved.get("newest_id")))
        before = walk.start if _is_id(walk.start) else None
        for count in range(self.max_pages):
            try:
                body = await self._get(http, "/posts.json", {"before": before} if before else {})
                if not isinstance(body.get("latest_posts"), list):
                    raise SourceError(f"{self.name}: unexpected answer (no latest_posts)")
            except SourceError as exc:
                if count == 0 and walk.start is not None and exc.retry_after is None:
                    log.warning("source %s: latest posts before %s gone", self.name, before)
                    walk.abandon()
                    last, before = newest, None
                    continue
                if count == 0:
                    raise
                cursor = {**walk.dump(stopped_at=before), "last_id": last, "newest_id": newest}
                return cursor, (f"latest posts stopped before {before}", exc)
            posts = [p for p in map(as_dict, body["latest_posts"]) if _id(p)]
            unseen = [p for p in posts if _id(p) > last]
            newest = max([newest, *(_id(p) for p in unseen)])
            async for post in in_turns(unseen):
                self._latest_post(walk, post, latest)
            if not posts or len(unseen) < len(posts) or walk.reached_known:
                return {**walk.dump(), "last_id": newest}, None
            before = min(_id(p) for p in unseen)
        walk.walk.note_truncated(self.name, self.max_pages)
        return {**walk.dump(stopped_at=before), "last_id": last, "newest_id": newest}, None

    def _latest_post(self, walk: ResumableWalk, post: dict[str, Any], latest: Latest) -> None:
        if post.get("post_type", _REGULAR) != _REGULAR:
            return  # moderator actions, "closed the topic", staff whispers
        title = html_to_text(str(post.get("topic_title") or ""))
        text = html_to_text(post.get("cooked"))
        matching = self.options.latest_posts == "matching"
        if matching and not _gone(post, text) and not self._brand.search(f"{title}\n{text}"):
            return  # (a deleted post is offered: it may have been a case before)
        edited = parse_time(post.get("updated_at"), self.clock()).timestamp()
        topic = {"slug": post.get("topic_slug")}
        self._offer(walk, post, topic, title, text, latest=latest, edited=edited)

    # --- shared -------------------------------------------------------------------------
    def _offer(
        self,
        walk: ResumableWalk,
        post: dict[str, Any],
        topic: dict[str, Any],
        title: str,
        text: str,
        *,
        latest: Latest,
        edited: float | None = None,
    ) -> bool:
        """Offer the post if it is new (``text``: its words without the title); a post seen
        deleted is reported gone, so a case made from it earlier gets a note."""
        post_id = _id(post)
        if not post_id:
            return False
        created = parse_time(post.get("created_at"), self.clock())
        why = _gone(post, text)
        if why:
            walk.take(str(post_id), created.timestamp())
            latest.gone(self.gone_post(str(post_id), why))
            return False
        if not text or not (
            walk.take(str(post_id), created.timestamp()) or walk.took(str(post_id))
        ):
            return False
        topic_id, number = post.get("topic_id"), post.get("post_number")
        url = f"{self.base_url}/p/{post_id}"
        if _is_id(topic_id) and _is_id(number):
            slug = topic.get("slug")
            path = f"{quote(slug, safe='')[:200]}/" if isinstance(slug, str) and slug else ""
            url = f"{self.base_url}/t/{path}{topic_id}/{number}"
        mention = self.mention(
            str(post_id),
            url=url,
            fallback_url=f"{self.base_url}/p/{post_id}",
            handle=tidy(str(post.get("username") or "")),
            name=tidy(str(post.get("name") or "")),
            text=join(title, text),
            created_at=created,
            raw=kept(post, RAW_FIELDS),
        )
        latest.offer(mention, edited)
        return True

    async def _get(
        self, http: httpx.AsyncClient, path: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers |= {"Api-Key": self.api_key, "Api-Username": self.options.api_username}
        now = self.clock()
        url = f"{self.base_url}{path}"
        response = await get(http, self.name, url, params=params, headers=headers, now=now, ok=_OK)
        if "html" in response.headers.get("content-type", "") and response.status_code == 200:
            raise SourceError(
                f"{self.name}: {path} answered a web page, not JSON "
                "(a private forum needs an API key: set api_key_env)"
            )
        body = json_body(response, self.name)
        if response.status_code == 200:
            if not isinstance(body, dict):
                raise SourceError(f"{self.name}: unexpected answer from {path} (not an object)")
            return body
        errors = " ".join(str(e) for e in as_list(as_dict(body).get("errors")))[:160]
        reason = errors or snippet(response)
        if response.status_code == 429:
            extras = as_dict(as_dict(body).get("extras"))
            wait = retry_after_header(response.headers.get("retry-after"), now)
            if wait is None and isinstance(extras.get("wait_seconds"), int | float):
                wait = max(0.0, float(extras["wait_seconds"]))
            raise SourceError(f"{self.name}: rate limited on {path}", retry_after=wait)
        kind = _NotFound if response.status_code == 404 else SourceError
        raise kind(f"{self.name}: HTTP {response.status_code} on {path}: {reason}")


def _id(post: dict[str, Any]) -> int:
    value = _number(post.get("id"))
    return value if value > 0 else 0


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _gone(post: dict[str, Any], text: str) -> str | None:
    """How the post is gone (deleted, withdrawn, hidden by flags), or None."""
    if post.get("deleted_at") or post.get("user_deleted") is True:
        return "deleted"
    if post.get("hidden") is True:
        return "hidden by the community's flags"
    match = _GONE.match(text)
    return f"{match.group(1).lower()} by its author" if match else None
