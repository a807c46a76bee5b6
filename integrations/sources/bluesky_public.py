"""Bluesky: the brand's public reply to a post, and the replies under it.

A reply is a record of ``app.bsky.feed.post`` written with
``com.atproto.repo.createRecord`` into the brand account's repository, with
``reply: {root, parent}`` (``parent`` the customer's post; ``root`` the post its thread
started from: its own reply ref's root when it is itself a reply, else itself). The brand
account logs in with its own handle and app password (``reply_handle_env``,
``reply_app_password_env``; apart from the account that searches), through
``com.atproto.server.createSession``; an expired access token is renewed with
``refreshSession`` (or a new session) and the write tried once more, since an expired token
posts nothing. Links in the text get link facets, so they are clickable; the text itself is
sent as typed. Limits: 300 graphemes and 3,000 bytes. createRecord takes no idempotency key:
a doubtful reply is settled by reading the thread.

The thread is ``app.bsky.feed.getPostThread`` (``replies``, walked to a bounded depth and
count); a post the AppView answers ``NotFound`` (or as a ``notFoundPost``) is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import RateLimit, ResetStyle, get, json_body
from integrations.sources._lengths import graphemes, link_spans
from integrations.sources._options import SourceOptions, Text
from integrations.sources._refusals import platform_message, refusal, write_credentials
from integrations.sources._replies import empty, read_each, reply_body, send, thread_post, too_long
from integrations.sources._text import parse_time, tidy
from triagebot.actions.public import (
    ReplyFailed,
    ReplyUnknown,
    SentReply,
    ThreadBudget,
    ThreadRead,
)
from triagebot.cases.answers import ThreadPost
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

LIMIT = RateLimit("ratelimit-remaining", "ratelimit-reset", ResetStyle.EPOCH)
HANDLE_VARIABLE, PASSWORD_VARIABLE = "BLUESKY_REPLY_HANDLE", "BLUESKY_REPLY_APP_PASSWORD"
SESSION = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
CREATE = "/xrpc/com.atproto.repo.createRecord"
THREAD = "/xrpc/app.bsky.feed.getPostThread"
MAX_GRAPHEMES, MAX_BYTES = 300, 3000
#: The AppView's limit as it reports it (``RateLimit-Policy: 3000;w=300``): 3,000 requests
#: per 5 minutes; ``getPostThread`` is one request per post.
THREAD_BUDGET = ThreadBudget(3000, 300.0, 1)
#: How much of a thread is read: levels of replies, and posts in all.
THREAD_DEPTH, THREAD_POSTS = 6, 500
_EXPIRED = ("ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing")


_NO_REF = "Bluesky: the post's uri and cid are unknown; reply on Bluesky"


class BlueskyPublicOptions(SourceOptions):
    """The keys a Bluesky source reads to reply as the brand."""

    reply_handle_env: Text | None = None  # default BLUESKY_REPLY_HANDLE
    reply_app_password_env: Text | None = None  # default BLUESKY_REPLY_APP_PASSWORD


class BlueskyPublic:
    """``PublicThreads`` for ``BlueskySource`` (which calls ``_init_public`` in its init)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

        async def _session(self, http: httpx.AsyncClient) -> str: ...

    base_url: str
    env: Mapping[str, str]
    options: Any
    clock: Callable[[], datetime]
    _token: str | None
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET
    reply_unsupported: ClassVar[str | None] = None
    reply_missing: tuple[str, ...] = ()

    def _init_public(self) -> None:
        names = [
            self.options.reply_handle_env or HANDLE_VARIABLE,
            self.options.reply_app_password_env or PASSWORD_VARIABLE,
        ]
        values, self.reply_missing = write_credentials(self.env, names)
        self._write_login = (values.get(names[0]), values.get(names[1]))
        self._write_names = names
        self._write: dict[str, str] = {}  # accessJwt, refreshJwt, did, pds

    @property
    def can_reply(self) -> bool:
        return all(self._write_login)

    def reply_problem(self, text: str) -> str | None:
        if problem := empty(text):
            return problem
        return too_long(graphemes(text), MAX_GRAPHEMES) or too_long(
            len(text.encode("utf-8")), MAX_BYTES, "bytes"
        )

    def post_refusal(self, mention: Mention) -> str | None:
        """A post whose uri and cid the poller did not keep cannot be replied to."""
        return _NO_REF if _ref(mention.raw) is None else None

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if not self.can_reply:
            raise ReplyFailed(
                f"Bluesky replies are not set up: set {' and '.join(self._write_names)}"
            )
        if problem := self.reply_problem(text):
            raise ReplyFailed(f"Bluesky: {problem}")
        parent = _ref(mention.raw)
        if parent is None:
            raise ReplyFailed(_NO_REF)
        record_reply = as_dict(as_dict(mention.raw.get("record")).get("reply"))
        root = _ref(as_dict(record_reply.get("root"))) or parent
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": self.clock().astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "reply": {"root": root, "parent": parent},
        }
        if facets := link_facets(text):
            record["facets"] = facets
        for attempt in (1, 2):
            session = await self._write_session(http, renew=attempt == 2)
            body = {"repo": session["did"], "collection": "app.bsky.feed.post", "record": record}
            headers = {"Authorization": f"Bearer {session['accessJwt']}"}
            url = f"{session['pds']}{CREATE}"
            response = await send(http, self.name, "POST", url, headers=headers, json=body)
            if response.status_code == 200:
                return self._sent(response, session)
            error = str(reply_body(response).get("error") or "")
            if attempt == 1 and response.status_code in (400, 401) and error in _EXPIRED:
                continue  # an expired token posts nothing: renew it and write once more
            raise self._refused(response)
        raise AssertionError("unreachable")

    def _sent(self, response: httpx.Response, session: Mapping[str, str]) -> SentReply:
        answer = reply_body(response)
        uri = answer.get("uri")
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise ReplyFailed("Bluesky answered without the new post's uri; see the thread")
        handle = session.get("handle") or session["did"]
        return SentReply(uri, f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}")

    def _refused(self, response: httpx.Response) -> ReplyFailed:
        if response.status_code == 400:
            said = platform_message(response)
            return ReplyFailed(f"Bluesky refused the reply (400){': ' + said if said else ''}")
        hint = f"check {' and '.join(self._write_names)} (an app password of the brand account)"
        return refusal(response, "Bluesky", now=self.clock(), limit=LIMIT, token_hint=hint)

    async def _write_session(self, http: httpx.AsyncClient, *, renew: bool) -> dict[str, str]:
        """The brand account's session: kept, renewed with its refresh token, or opened."""
        if self._write and not renew:
            return self._write
        if self._write and renew:
            refreshed = await self._login(
                http, REFRESH, None, {"Authorization": f"Bearer {self._write['refreshJwt']}"}
            )
            if refreshed is not None:
                return refreshed
        handle, password = self._write_login
        opened = await self._login(http, SESSION, {"identifier": handle, "password": password}, {})
        if opened is None:
            names = " and ".join(self._write_names)
            raise ReplyFailed(f"Bluesky refused the brand account's login: check {names}")
        return opened

    async def _login(
        self,
        http: httpx.AsyncClient,
        path: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> dict[str, str] | None:
        """A session from ``createSession`` or ``refreshSession``; None when refused."""
        try:
            response = await send(
                http, self.name, "POST", f"{self.base_url}{path}", headers=headers, json=body
            )
        except ReplyUnknown as doubt:  # a login posts nothing: the reply was not sent
            raise ReplyFailed(f"Bluesky login did not answer ({doubt.reason})") from None
        if response.status_code == 429:
            raise refusal(response, "Bluesky", now=self.clock(), limit=LIMIT)
        answer = reply_body(response)
        fields = {k: answer.get(k) for k in ("accessJwt", "refreshJwt", "did")}
        if response.status_code != 200 or not all(isinstance(v, str) for v in fields.values()):
            self._write = {}
            return None
        session = {k: str(v) for k, v in fields.items()}
        session["handle"] = str(answer.get("handle") or "")
        session["pds"] = _pds(answer.get("didDoc")) or self.base_url
        self._write = session
        return session

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        async def read(mention: Mention) -> ThreadRead | None:
            uri = str(mention.raw.get("uri") or mention.id.removeprefix(f"{self.name}:"))
            return await self._thread(http, uri) if uri.startswith("at://") else None

        return await read_each(mentions, read)

    async def _thread(self, http: httpx.AsyncClient, uri: str) -> ThreadRead:
        params = {"uri": uri, "depth": THREAD_DEPTH, "parentHeight": 0}
        for attempt in (1, 2):
            token = await self._session(http)
            now = self.clock()
            response = await get(
                http,
                self.name,
                f"{self.base_url}{THREAD}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                limit=LIMIT,
                now=now,
                ok=(200, 400, 401),
            )
            answer = as_dict(json_body(response, self.name))
            error = str(answer.get("error") or "")
            if response.status_code == 200:
                return self._read(as_dict(answer.get("thread")), now)
            if error == "NotFound":
                return ThreadRead(gone="deleted (Bluesky: post not found)")
            if attempt == 1 and error in _EXPIRED:
                self._token = None  # a new read session, once
                continue
            raise SourceError(f"{self.name}: getPostThread refused: {error[:60] or 'HTTP 4xx'}")
        raise AssertionError("unreachable")

    def _read(self, thread: dict[str, Any], now: datetime) -> ThreadRead:
        if thread.get("notFound") is True or str(thread.get("$type", "")).endswith("notFoundPost"):
            return ThreadRead(gone="deleted (Bluesky: post not found)")
        posts: list[ThreadPost] = []
        level = [(reply, as_dict(thread.get("post"))) for reply in as_list(thread.get("replies"))]
        for _ in range(THREAD_DEPTH):
            below: list[tuple[Any, dict[str, Any]]] = []
            for node, parent in level:
                view = as_dict(as_dict(node).get("post"))
                if not view.get("uri") or len(posts) >= THREAD_POSTS:
                    continue  # blocked or deleted replies carry no post
                posts.append(self._post(view, str(parent.get("uri") or ""), now))
                below += [(reply, view) for reply in as_list(as_dict(node).get("replies"))]
            level = below
        return ThreadRead(posts=posts)

    def _post(self, view: dict[str, Any], parent: str, now: datetime) -> ThreadPost:
        uri = str(view["uri"])
        author = as_dict(view.get("author"))
        handle = str(author.get("handle") or "")
        record = as_dict(view.get("record"))
        rkey = uri.rsplit("/", 1)[-1]
        return thread_post(
            uri,
            author=handle or None,
            text=tidy(str(record.get("text") or "")),
            created_at=parse_time(record.get("createdAt") or view.get("indexedAt"), now),
            url=f"https://bsky.app/profile/{handle or author.get('did')}/post/{rkey}",
            in_reply_to=parent or None,
            max_text=self.options.max_text,
        )


def link_facets(text: str) -> list[dict[str, Any]]:
    """Link facets for the http(s) links in ``text``, at their UTF-8 byte offsets."""
    facets = []
    for start, end in link_spans(text):
        link = text[start:end]
        if safe_http_url(link) is None:
            continue
        begin = len(text[:start].encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": begin, "byteEnd": begin + len(link.encode("utf-8"))},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
            }
        )
    return facets


def _ref(data: Mapping[str, Any]) -> dict[str, str] | None:
    uri, cid = data.get("uri"), data.get("cid")
    if isinstance(uri, str) and uri.startswith("at://") and isinstance(cid, str) and cid:
        return {"uri": uri, "cid": cid}
    return None


def _pds(did_doc: object) -> str | None:
    """The account's own PDS from the session's DID document, when it names one."""
    for service in map(as_dict, as_list(as_dict(did_doc).get("service"))):
        if str(service.get("id", "")).endswith("#atproto_pds"):
            endpoint = safe_http_url(service.get("serviceEndpoint"))
            return endpoint.rstrip("/") if endpoint else None
    return None
