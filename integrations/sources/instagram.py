"""Instagram: media an Instagram professional account is tagged in, and comments on its media.

Through the Graph API (``graph.facebook.com``) with a token that can read the account
(``INSTAGRAM_ACCESS_TOKEN`` by default; ``instagram_basic`` and ``instagram_manage_comments``).
``/{ig-user-id}/tags`` lists media where people tagged the account, newest first, walked with
``paging.cursors.after`` down to the watermark. Comments: the newest ``media`` items of
``/{ig-user-id}/media`` that have comments, each item's comments with their replies; Graph does
not promise an order for comments, so every page of an item is read (up to ``max_pages``) and
the watermark and the ids seen decide what is new. The account's own replies are not mentions,
and items without text leave nothing to triage. Caption @mentions without a photo tag reach
an app only through webhooks, which this poller does not receive. Rate limits, pauses and
the expired-token message are those of ``_graph``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from pydantic import Field, StrictBool, StrictStr

from integrations.sources._base import (
    Latest,
    Walk,
    Watermark,
    as_dict,
    as_list,
    kept,
)
from integrations.sources._graph import (
    GraphError,
    GraphOptions,
    finished,
    graph_for,
    paused_page,
    take,
)
from integrations.sources._graph_public import GraphPublic, reply_graph_for
from integrations.sources._graph_source import GraphSource, Part
from integrations.sources._options import Positive
from integrations.sources._replies import thread_post
from integrations.sources._text import parse_time, tidy
from triagebot.actions.public import ReplyFailed
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention

log = logging.getLogger(__name__)

TAG_FIELDS = "id,caption,timestamp,permalink,username,media_type"
MEDIA_FIELDS = "id,permalink,timestamp,username,comments_count"
COMMENT = "id,text,timestamp,username,from,parent_id"
COMMENT_FIELDS = f"{COMMENT},replies{{{COMMENT}}}"
#: What a stored case keeps of media or a comment (``raw``): its id and link, and for a comment
#: the media it is on and its parent comment (``media_id``, ``parent_id``: replies and threads).
RAW_FIELDS = ("id", "permalink", "media_id", "parent_id")
#: Characters in one Instagram comment (2,200, as in a caption).
MAX_COMMENT = 2_200
_NOT_FOUND = 100


class InstagramOptions(GraphOptions):
    account_id: Annotated[StrictStr, Field(pattern=r"^\d+$")]  # the IG user id, in quotes
    mentions: StrictBool = True  # read media the account is tagged in
    comments: StrictBool = True  # read comments on the account's recent media
    media: Positive = 10  # how many recent media items have their comments read


class InstagramSource(GraphSource, GraphPublic):
    kind = "instagram"
    default_base_url = "https://graph.facebook.com"
    default_page_size = 50
    options_model = InstagramOptions
    options: InstagramOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = self.options.account_id
        if not (self.options.mentions or self.options.comments):
            raise self.bad_option("mentions", "mentions and comments cannot both be false")
        self.graph = graph_for(self, "INSTAGRAM_ACCESS_TOKEN", "INSTAGRAM_APP_SECRET")
        self.reply_graph, self.reply_missing = reply_graph_for(
            self, "INSTAGRAM_REPLY_TOKEN", "INSTAGRAM_APP_SECRET"
        )

    def parts(self) -> list[tuple[str, Part]]:
        return [
            (part, walk)
            for part, walk, wanted in (
                ("tags", self._tags, self.options.mentions),
                ("comments", self._comments, self.options.comments),
            )
            if wanted
        ]

    # --- media the account is tagged in ---------------------------------------------------
    async def _tags(
        self, http: httpx.AsyncClient, state: dict[str, Any], found: Latest
    ) -> float | None:
        return await self.walk_edge(
            http,
            state,
            found,
            key="tags",
            path=f"/{self.account}/tags",
            fields=TAG_FIELDS,
            take_item=self._tagged,
        )

    def _tagged(self, item: dict[str, Any], walk: Walk, found: Latest) -> None:
        media_id = str(item.get("id") or "")
        now = self.clock()
        if not media_id or not (
            take(walk, media_id, item.get("timestamp"), now) or walk.took(media_id)
        ):
            return
        text = tidy(str(item.get("caption") or ""))
        if not text:
            return  # a photo without a caption: nothing to triage
        username = str(item.get("username") or "")
        mention = self.mention(
            media_id,
            url=item.get("permalink"),
            fallback_url=f"https://www.instagram.com/{username}/" if username else "",
            handle=username,
            text=text,
            created_at=parse_time(item.get("timestamp"), now),
            raw=kept(item, RAW_FIELDS),
        )
        found.offer(mention)

    # --- comments on the account's media --------------------------------------------------
    async def _comments(
        self, http: httpx.AsyncClient, state: dict[str, Any], found: Latest
    ) -> float | None:
        mark = Watermark.load(as_dict(state.get("comments")), self.overlap)
        walk = Walk(mark, self.floor())
        params = {"fields": MEDIA_FIELDS, "limit": self.options.media}
        media, pause = await paused_page(
            self.graph, http, f"/{self.account}/media", params, after=None, now=self.clock()
        )
        for item in media.items if media else []:
            if pause:
                break
            count = item.get("comments_count")
            if not isinstance(item.get("id"), str) or (isinstance(count, int) and count <= 0):
                continue
            pause = await self._media_comments(http, item, walk, found)
        state["comments"] = finished(walk, mark, interrupted=pause is not None).dump()
        return pause

    async def _media_comments(
        self, http: httpx.AsyncClient, media: dict[str, Any], walk: Walk, found: Latest
    ) -> float | None:
        params = {"fields": COMMENT_FIELDS, "limit": self.page_size}
        after: str | None = None
        pause: float | None = None
        for _ in range(self.max_pages):  # no promised order: every page is read
            try:
                page, pause = await paused_page(
                    self.graph,
                    http,
                    f"/{media['id']}/comments",
                    params,
                    after=after,
                    now=self.clock(),
                )
            except GraphError as exc:
                if exc.code != _NOT_FOUND:
                    raise
                log.info("source %s: media %s is gone; comments skipped", self.name, media["id"])
                break
            for comment in page.items if page else []:
                replies = as_list(as_dict(comment.get("replies")).get("data"))
                for item in [comment, *(r for r in replies if isinstance(r, dict))]:
                    self._comment(item, media, walk, found)
            after = page.after if page else None
            if not after or pause:
                break
        return pause

    def _comment(
        self, item: dict[str, Any], media: dict[str, Any], walk: Walk, found: Latest
    ) -> None:
        comment_id = str(item.get("id") or "")
        now = self.clock()
        if not comment_id or not (
            take(walk, comment_id, item.get("timestamp"), now) or walk.took(comment_id)
        ):
            return
        author = as_dict(item.get("from"))
        username = str(item.get("username") or author.get("username") or "")
        own = str(media.get("username") or "").casefold()
        text = tidy(str(item.get("text") or ""))
        if author.get("id") == self.account or (own and username.casefold() == own) or not text:
            return  # the account's own reply, or nothing left to read
        permalink = media.get("permalink")
        on_media = permalink if isinstance(permalink, str) else ""
        mention = self.mention(
            comment_id,
            url=f"{on_media.rstrip('/')}/c/{comment_id}/" if on_media else None,
            fallback_url=on_media,
            handle=username,
            text=text,
            created_at=parse_time(item.get("timestamp"), now),
            raw=kept({**item, "media_id": media["id"]}, RAW_FIELDS),
        )
        found.offer(mention)

    # --- replies and threads (``_graph_public``) -----------------------------------------------
    max_reply = MAX_COMMENT

    def post_refusal(self, mention: Mention) -> str | None:
        """Media the account is only tagged in takes no comment from it through the API."""
        if "media_id" in mention.raw:
            return None
        return (
            f"{self.name}: Instagram does not let an account comment on media it is tagged "
            "in; answer in the Instagram app"
        )

    def reply_path(self, mention: Mention, target: str) -> str:
        if refused := self.post_refusal(mention):
            raise ReplyFailed(refused)
        return f"/{_top_level(mention, target)}/replies"  # replies nest one level only

    def reply_url(self, mention: Mention, reply_id: str) -> str | None:
        return mention.url  # the customer's comment; the reply is listed under it

    def thread_edge(self, mention: Mention, target: str) -> tuple[str, dict[str, Any]] | None:
        if "media_id" not in mention.raw:
            return None  # tagged media: its comments are not the account's to read
        return f"/{_top_level(mention, target)}/replies", {"fields": COMMENT}

    def thread_item(self, item: dict[str, Any], mention: Mention) -> ThreadPost | None:
        comment_id = str(item.get("id") or "")
        if not comment_id or comment_id == mention.id.removeprefix(f"{self.name}:"):
            return None
        author = as_dict(item.get("from"))
        by_brand = author.get("id") == self.account
        username = str(item.get("username") or author.get("username") or "")
        text = tidy(str(item.get("text") or ""))
        if not (text or by_brand):
            return None
        parent = item.get("parent_id")
        return thread_post(
            comment_id,
            author=username,
            text=text,
            created_at=parse_time(item.get("timestamp"), self.clock()),
            url=None,
            in_reply_to=parent if isinstance(parent, str) and parent else None,
            by_brand=by_brand,
            max_text=self.options.max_text,
        )


def _top_level(mention: Mention, target: str) -> str:
    """The top-level comment of a thread: the comment's parent when it is itself a reply."""
    parent = mention.raw.get("parent_id")
    return parent if isinstance(parent, str) and parent.isdigit() else target
