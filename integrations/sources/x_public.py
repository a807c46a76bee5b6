"""X: the brand's public reply to a post, and the conversation under it.

A reply is ``POST /2/tweets`` with ``{"text", "reply": {"in_reply_to_tweet_id"}}`` as the
brand's account, in *user context*: the app-only bearer token that search uses cannot post.
Either an OAuth 2.0 user access token with the ``tweet.write`` scope (``reply_token_env``; X
makes those expire after two hours) or, for a service that runs for months, the app's
OAuth 1.0a consumer key and secret with the brand account's access token and secret
(``reply_consumer_key_env``, ``reply_consumer_secret_env``, ``reply_access_token_env``,
``reply_access_token_secret_env``; they do not expire), each request signed HMAC-SHA1 by
oauthlib. X has no idempotency key, so a reply is sent once; a
doubtful one is settled by reading the conversation. The length is X's weighted count
(``_lengths.x_weighted_length``, 280).

A conversation is read with recent search, ``conversation_id:<id>`` for several posts at once
(joined with ``OR`` within the 512-character query limit), newest first, one page of 100:
read every check interval, a brand reply is seen while it is among the newest 100 posts of
its conversation. Search covers the last seven days only. Whether the customer's own post is
still there comes from one ``GET /2/tweets?ids=…`` for the batch: "Not Found" means deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from oauthlib import oauth1

from integrations.sources._base import as_dict, as_list
from integrations.sources._http import RateLimit, ResetStyle, get, json_body
from integrations.sources._lengths import X_LIMIT, x_weighted_length
from integrations.sources._options import SourceOptions, Text
from integrations.sources._refusals import refusal, write_credentials
from integrations.sources._replies import empty, reply_body, send, thread_post, too_long
from integrations.sources._text import parse_time, unescape
from triagebot.actions.public import ReplyFailed, SentReply, ThreadBudget, ThreadRead
from triagebot.cases.answers import ThreadPost
from triagebot.cases.links import safe_http_url
from triagebot.cases.records import Mention
from triagebot.errors import SourceError

LIMIT = RateLimit("x-rate-limit-remaining", "x-rate-limit-reset", ResetStyle.EPOCH)
REPLY_VARIABLE = "X_REPLY_TOKEN"
#: Recent search's query may be 512 characters long.
QUERY_LIMIT = 512
#: ``GET /2/tweets/search/recent``: 450 requests per 15 minutes per app
#: (docs.x.com/x-api/fundamentals/rate-limits). Each thread read is one search request (and
#: one ``GET /2/tweets`` lookup, whose limit, 3,500 per 15 minutes, is higher); up to 12
#: conversation ids of 19-20 digits fit in one query.
THREAD_BUDGET = ThreadBudget(450, 900.0, 12)
THREAD_FIELDS = {
    "tweet.fields": "created_at,author_id,conversation_id,referenced_tweets,note_tweet,entities",
    "expansions": "author_id",
    "user.fields": "username",
}


OAUTH1_VARIABLES = (
    "X_REPLY_CONSUMER_KEY",
    "X_REPLY_CONSUMER_SECRET",
    "X_REPLY_ACCESS_TOKEN",
    "X_REPLY_ACCESS_TOKEN_SECRET",
)


class XPublicOptions(SourceOptions):
    """The keys an X source reads to reply as the brand."""

    reply_token_env: Text | None = None  # OAuth 2.0 user token (tweet.write); default X_REPLY_TOKEN
    reply_consumer_key_env: Text | None = None  # OAuth 1.0a, with the three below
    reply_consumer_secret_env: Text | None = None
    reply_access_token_env: Text | None = None
    reply_access_token_secret_env: Text | None = None


class XPublic:
    """``PublicThreads`` for ``XSource`` (which calls ``_init_public`` in its init)."""

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

    base_url: str
    token: str | None  # the app-only bearer token that reads
    env: Mapping[str, str]
    options: Any
    clock: Callable[[], datetime]
    can_read_threads: ClassVar[bool] = True
    thread_budget: ClassVar[ThreadBudget] = THREAD_BUDGET
    reply_unsupported: ClassVar[str | None] = None
    reply_token: str | None = None
    reply_missing: tuple[str, ...] = ()
    _signer: oauth1.Client | None = None

    def _init_public(self) -> None:
        variable = self.options.reply_token_env or REPLY_VARIABLE
        named = (
            self.options.reply_consumer_key_env,
            self.options.reply_consumer_secret_env,
            self.options.reply_access_token_env,
            self.options.reply_access_token_secret_env,
        )
        signing = [n or default for n, default in zip(named, OAUTH1_VARIABLES, strict=True)]
        values, _ = write_credentials(self.env, [variable, *signing])
        self.reply_token = values.get(variable)
        keys = [values.get(v) for v in signing]
        self._signer = None
        if all(keys):
            key, secret, token, token_secret = (str(k) for k in keys)
            self._signer = oauth1.Client(
                key,
                client_secret=secret,
                resource_owner_key=token,
                resource_owner_secret=token_secret,
            )
        if self.can_reply:
            self.reply_missing = ()
        elif any(keys):  # OAuth 1.0a begun: name what it lacks
            self.reply_missing = tuple(v for v, k in zip(signing, keys, strict=True) if not k)
        else:
            self.reply_missing = (variable,)
        self._reply_variables = " and ".join(signing) if self._signer is not None else variable

    @property
    def can_reply(self) -> bool:
        return self.reply_token is not None or self._signer is not None

    def _write_headers(self, url: str) -> dict[str, str]:
        """The brand account's authorization: an OAuth 1.0a signature, else its user token."""
        if self._signer is not None:
            _, signed, _ = self._signer.sign(
                url, http_method="POST", headers={"Content-Type": "application/json"}
            )
            return {"Authorization": signed["Authorization"]}
        return {"Authorization": f"Bearer {self.reply_token}"}

    def reply_problem(self, text: str) -> str | None:
        if problem := empty(text):
            return problem
        return too_long(x_weighted_length(text), X_LIMIT)

    async def reply(
        self, http: httpx.AsyncClient, mention: Mention, text: str, key: str
    ) -> SentReply:
        if not self.can_reply:
            raise ReplyFailed(f"X replies are not set up: set {' and '.join(self.reply_missing)}")
        if problem := self.reply_problem(text):
            raise ReplyFailed(f"X: {problem}")
        tweet_id = str(mention.raw.get("id") or "")
        if not tweet_id.isdigit():
            raise ReplyFailed("X: the post's id is unknown; reply on X")
        body = {"text": text, "reply": {"in_reply_to_tweet_id": tweet_id}}
        url = f"{self.base_url}/2/tweets"
        headers = self._write_headers(url)
        response = await send(http, self.name, "POST", url, headers=headers, json=body)
        if response.status_code not in (200, 201):
            hint = f"reconnect the brand account (check {self._reply_variables})"
            raise refusal(response, "X", now=self.clock(), limit=LIMIT, token_hint=hint)
        data = as_dict(reply_body(response).get("data"))
        new_id = str(data.get("id") or "")
        if not new_id.isdigit():
            raise ReplyFailed("X answered without the new post's id; see the conversation")
        return SentReply(new_id, f"https://x.com/i/status/{new_id}")

    async def threads(
        self, http: httpx.AsyncClient, mentions: Sequence[Mention]
    ) -> Mapping[str, ThreadRead]:
        chosen = _fit_query([m for m in mentions if _conversation(m)])
        if not chosen:
            return {}
        query = " OR ".join(
            f"conversation_id:{c}" for c in dict.fromkeys(map(_conversation, chosen))
        )
        now = self.clock()
        params = {"query": query, "max_results": 100, "sort_order": "recency", **THREAD_FIELDS}
        response = await get(
            http,
            self.name,
            f"{self.base_url}/2/tweets/search/recent",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            limit=LIMIT,
            now=now,
        )
        body = as_dict(json_body(response, self.name))
        users = {
            str(u.get("id")): str(u.get("username") or "")
            for u in map(as_dict, as_list(as_dict(body.get("includes")).get("users")))
        }
        by_conversation: dict[str, list[dict[str, Any]]] = {}
        for tweet in map(as_dict, as_list(body.get("data"))):
            by_conversation.setdefault(str(tweet.get("conversation_id") or ""), []).append(tweet)
        gone = await self._gone(http, chosen)
        found: dict[str, ThreadRead] = {}
        for mention in chosen:
            own = {str(mention.raw.get("id") or "")}
            own |= {str(i) for i in as_list(mention.raw.get("edit_history_tweet_ids"))}
            posts = [
                self._post(t, users, now)
                for t in by_conversation.get(_conversation(mention), [])
                if str(t.get("id") or "") not in own and str(t.get("id") or "").isdigit()
            ]
            found[mention.id] = ThreadRead(posts=posts, gone=gone.get(mention.id))
        return found

    async def _gone(self, http: httpx.AsyncClient, mentions: Sequence[Mention]) -> dict[str, str]:
        """The mentions whose post X no longer has ("Not Found": deleted by its author)."""
        ids = {str(m.raw.get("id") or ""): m.id for m in mentions}
        ids.pop("", None)
        if not ids:
            return {}
        try:
            response = await get(
                http,
                self.name,
                f"{self.base_url}/2/tweets",
                params={"ids": ",".join(ids)},
                headers={"Authorization": f"Bearer {self.token}"},
                limit=LIMIT,
                now=self.clock(),
            )
            body = as_dict(json_body(response, self.name))
        except SourceError:  # the conversations were read: whether a post is gone waits
            return {}
        gone: dict[str, str] = {}
        for error in map(as_dict, as_list(body.get("errors"))):
            kind = str(error.get("type") or "")
            which = str(error.get("resource_id") or error.get("value") or "")
            if kind.endswith("/resource-not-found") and which in ids:
                gone[ids[which]] = "deleted by its author"
        return gone

    def _post(self, tweet: dict[str, Any], users: Mapping[str, str], now: datetime) -> ThreadPost:
        tweet_id = str(tweet["id"])
        username = users.get(str(tweet.get("author_id")), "")
        note = as_dict(tweet.get("note_tweet"))
        long_text = note.get("text")
        source = note if isinstance(long_text, str) and long_text else tweet
        text = unescape(expanded(str(source.get("text") or ""), source.get("entities")))
        parent = next(
            (
                str(ref.get("id"))
                for ref in map(as_dict, as_list(tweet.get("referenced_tweets")))
                if ref.get("type") == "replied_to" and ref.get("id")
            ),
            None,
        )
        return thread_post(
            tweet_id,
            author=username or None,
            text=text,
            created_at=parse_time(tweet.get("created_at"), now),
            url=f"https://x.com/{username or 'i'}/status/{tweet_id}",
            in_reply_to=parent,
            max_text=self.options.max_text,
        )


def expanded(text: str, entities: object) -> str:
    """``text`` with X's ``t.co`` links put back as the links that were written (the
    ``expanded_url`` of each ``entities.urls``), so a post reads as typed."""
    for link in map(as_dict, as_list(as_dict(entities).get("urls"))):
        short, full = link.get("url"), safe_http_url(link.get("expanded_url"))
        if isinstance(short, str) and short.startswith("https://t.co/") and full:
            text = text.replace(short, full)
    return text


def _conversation(mention: Mention) -> str:
    """The conversation the post belongs to (its own id when it starts one)."""
    for value in (mention.raw.get("conversation_id"), mention.raw.get("id")):
        if isinstance(value, str) and value.isdigit():
            return value
    return ""


def _fit_query(mentions: Sequence[Mention]) -> list[Mention]:
    """The first mentions whose ``conversation_id:`` clauses fit in one query."""
    chosen: list[Mention] = []
    clauses: list[str] = []
    for mention in mentions:
        clause = f"conversation_id:{_conversation(mention)}"
        if clause not in clauses:
            if len(" OR ".join([*clauses, clause])) > QUERY_LIMIT:
                break
            clauses.append(clause)
        chosen.append(mention)
    return chosen
