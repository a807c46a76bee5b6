"""Bluesky: ``app.bsky.feed.searchPosts`` with ``sort=latest``, as a logged-in account.

Anonymous search was switched off, so the adapter opens a session
(``com.atproto.server.createSession`` with a handle and an app password from the environment)
and sends its access token; an expired token is renewed once per poll. Paging follows
``cursor`` (none means the end) until posts behind the watermark; later polls also send
``since``. The watermark uses ``indexedAt`` (server time): ``createdAt`` is set by the client
and can be wrong. A post is identified by its ``at://`` uri. Reset headers are epochs.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
from integrations.sources._http import RateLimit, ResetStyle, get, json_body, pause_for
from integrations.sources._options import Text
from integrations.sources._resume import ResumableWalk
from integrations.sources._text import language, parse_time, tidy
from integrations.sources.bluesky_public import BlueskyPublic, BlueskyPublicOptions
from triagebot.cases.records import Mention
from triagebot.errors import MissingCredentials, SourceError
from triagebot.ingest.sources import PollResult

LIMIT = RateLimit("ratelimit-remaining", "ratelimit-reset", ResetStyle.EPOCH)
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
#: What a stored case keeps of a post view (``raw``): the ``uri`` and ``cid`` a reply and a
#: thread read name, and the thread's root and parent (``record.reply``, ``bluesky_public``).
RAW_FIELDS = ("uri", "cid", "record.reply")
SESSION = "/xrpc/com.atproto.server.createSession"


class BlueskyOptions(BlueskyPublicOptions):
    handle_env: Text | None = None
    app_password_env: Text | None = None


class BlueskySource(BaseSource, BlueskyPublic):
    kind = "bluesky"
    default_base_url = "https://bsky.social"
    default_page_size = 100
    options_model = BlueskyOptions
    options: BlueskyOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = [
            self.options.handle_env or "BLUESKY_HANDLE",
            self.options.app_password_env or "BLUESKY_APP_PASSWORD",
        ]
        missing = [v for v in self.variables if not self.env.get(v, "").strip()]
        if missing:
            raise MissingCredentials(self.name, missing)
        self.handle = self.credential("handle_env", "BLUESKY_HANDLE") or ""
        self.password = self.credential("app_password_env", "BLUESKY_APP_PASSWORD") or ""
        self._token: str | None = None
        self._init_public()

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        resumable = ResumableWalk(load_cursor(cursor, self.name), self.overlap, self.floor())
        walk = resumable.walk
        latest = Latest()
        go_on = resumable.start if isinstance(resumable.start, str) else None
        page_cursor: str | None = go_on  # the page an interrupted walk stopped before
        wait: float | None = None
        errors: list[tuple[str, SourceError]] = []
        for page in range(self.max_pages):
            try:
                body, wait = await self._search(http, resumable.since, page_cursor)
            except SourceError as exc:
                if page == 0:
                    raise
                errors.append((f"page {page + 1}", exc))  # keep the pages read; go on later
                break
            async for post in in_turns(as_list(body.get("posts"))):
                latest.offer(self._take(walk, as_dict(post)))  # a repeat: the later copy wins
            page_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if walk.reached_known or not page_cursor or wait:
                break
        else:
            walk.note_truncated(self.name, self.max_pages)
        stopped = None if walk.reached_known else page_cursor
        cursor_text = dump_cursor(resumable.dump(stopped))
        return partial_result(latest, cursor_text, wait, errors, len(errors) + 1)

    async def _search(
        self, http: httpx.AsyncClient, since_at: float | None, page_cursor: str | None
    ) -> tuple[dict[str, Any], float | None]:
        params: dict[str, Any] = {"q": self.query, "sort": "latest", "limit": self.page_size}
        if page_cursor:
            params["cursor"] = page_cursor
        if since_at is not None:
            since = datetime.fromtimestamp(since_at, UTC)
            params["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        for attempt in (1, 2):
            token = await self._session(http)
            now = self.clock()
            response = await get(
                http,
                self.name,
                f"{self.base_url}{SEARCH}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                limit=LIMIT,
                now=now,
                ok=(200, 400, 401, 403),
            )
            body = self._body(response)
            if response.status_code == 200:
                return body, pause_for(response, LIMIT, now, self.every)
            self._token = None
            error = str(body.get("error") or response.status_code)
            if attempt == 1 and error in ("ExpiredToken", "InvalidToken"):
                continue  # a new session, once
            if response.status_code in (401, 403):
                raise SourceError(
                    f"{self.name}: authentication needed (HTTP {response.status_code}: "
                    f"{error[:40]}): set {' and '.join(self.variables)}"
                )
            raise SourceError(f"{self.name}: search refused: {error[:80]}")
        raise AssertionError("unreachable")

    async def _session(self, http: httpx.AsyncClient) -> str:
        if self._token:
            return self._token
        response = await get(
            http,
            self.name,
            f"{self.base_url}{SESSION}",
            body={"identifier": self.handle, "password": self.password},
            now=self.clock(),
            ok=(200, 400, 401, 403),
        )
        body = self._body(response)
        token = body.get("accessJwt")
        if response.status_code != 200 or not isinstance(token, str):
            raise SourceError(
                f"{self.name}: login refused ({body.get('error') or response.status_code}); "
                f"check {' and '.join(self.variables)}"
            )
        self._token = token
        return token

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON answer; a refusal that is not XRPC JSON (an HTML 401/403 page from a proxy
        or the public AppView) means the request was not authenticated."""
        status = response.status_code
        try:
            body = json_body(response, self.name)
        except SourceError:
            if status not in (401, 403):
                raise
            body = None
        if status in (401, 403) and not isinstance(body, dict):
            raise SourceError(
                f"{self.name}: authentication needed (HTTP {status}): "
                f"set {' and '.join(self.variables)}"
            )
        return as_dict(body)

    def _take(self, walk: Walk, post: dict[str, Any]) -> Mention | None:
        uri = str(post.get("uri") or "")
        record = as_dict(post.get("record"))
        now = self.clock()
        created = parse_time(record.get("createdAt"), now)
        indexed = parse_time(post.get("indexedAt"), created)
        if not uri or not (walk.take(uri, indexed.timestamp()) or walk.took(uri)):
            return None
        author = as_dict(post.get("author"))
        handle = str(author.get("handle") or "")
        rkey = uri.rsplit("/", 1)[-1]
        langs = as_list(record.get("langs"))
        return self.mention(
            uri,
            url=f"https://bsky.app/profile/{handle or author.get('did')}/post/{rkey}",
            fallback_url=f"https://bsky.app/profile/{author.get('did')}",
            handle=handle,
            name=tidy(str(author.get("displayName") or "")),
            text=tidy(str(record.get("text") or "")),
            created_at=created,
            lang=language(langs[0]) if langs else None,
            raw=kept(post, RAW_FIELDS),
        )
