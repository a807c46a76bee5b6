"""Facebook: posts that tag a Page (``/{page-id}/tagged``) and comments on the Page's feed.

The Page access token (``FACEBOOK_PAGE_TOKEN`` by default) needs ``pages_read_engagement`` and
``pages_read_user_content``. Tagged posts come newest first and are walked with
``paging.cursors.after`` until the watermark (the newest time seen, with the ids seen near
it); a post repeated on the next page is taken once, and of two copies of one post in a poll
the later edit (``updated_time``) wins. Comments: the newest ``posts`` entries of
``/{page-id}/feed`` whose ``updated_time`` is past the watermark, each post's comments newest
first (``filter=stream`` includes replies); the Page's own replies are not mentions. Graph does
not return deleted items, but items without text (a photo, a sticker) leave nothing to triage
and are skipped. ``from`` is often absent on tagged posts by people (Graph shows it only to
the author), so the author is then unknown. When a walk stops early because Graph asked for a
pause, its watermark does not move (the ids taken are remembered), so the next poll walks
down to where it was: no post is skipped, and no stored Graph cursor can go stale.
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
    kept,
)
from integrations.sources._graph import (
    GraphError,
    GraphOptions,
    edit_time,
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
from triagebot.cases.answers import ThreadPost
from triagebot.cases.records import Mention

log = logging.getLogger(__name__)

TAGGED_FIELDS = "id,message,created_time,updated_time,permalink_url,from"
FEED_FIELDS = "id,created_time,updated_time,permalink_url"
COMMENT_FIELDS = "id,message,created_time,from,permalink_url"
THREAD_FIELDS = "id,from,message,created_time,parent{id},permalink_url"
#: What a stored case keeps of a post or comment (``raw``): its id and link, and for a comment
#: the post it is on (``post_id``: ``reply_url`` tells a comment by it).
RAW_FIELDS = ("id", "permalink_url", "post_id")
#: Characters in one Facebook comment (the limit Facebook's comment box enforces).
MAX_COMMENT = 8_000
_NOT_FOUND = 100  # Graph's code for an object that no longer exists (a post deleted meanwhile)


class FacebookOptions(GraphOptions):
    page_id: Annotated[StrictStr, Field(pattern=r"^\d+$")]  # the Page's numeric id, in quotes
    tagged: StrictBool = True  # read posts that tag the Page
    comments: StrictBool = True  # read comments on the Page's recent posts
    posts: Positive = 10  # how many recent feed posts have their comments read


class FacebookSource(GraphSource, GraphPublic):
    kind = "facebook"
    default_base_url = "https://graph.facebook.com"
    default_page_size = 25
    options_model = FacebookOptions
    options: FacebookOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.page_id = self.options.page_id
        if not (self.options.tagged or self.options.comments):
            raise self.bad_option("tagged", "tagged and comments cannot both be false")
        self.graph = graph_for(self, "FACEBOOK_PAGE_TOKEN", "FACEBOOK_APP_SECRET")
        self.reply_graph, self.reply_missing = reply_graph_for(
            self, "FACEBOOK_REPLY_TOKEN", "FACEBOOK_APP_SECRET"
        )

    def parts(self) -> list[tuple[str, Part]]:
        return [
            (part, walk)
            for part, walk, wanted in (
                ("tagged", self._tagged, self.options.tagged),
                ("comments", self._comments, self.options.comments),
            )
            if wanted
        ]

    # --- tagged posts ---------------------------------------------------------------------
    async def _tagged(
        self, http: httpx.AsyncClient, state: dict[str, Any], found: Latest
    ) -> float | None:
        return await self.walk_edge(
            http,
            state,
            found,
            key="tagged",
            path=f"/{self.page_id}/tagged",
            fields=TAGGED_FIELDS,
            take_item=self._post,
        )

    def _post(self, item: dict[str, Any], walk: Walk, found: Latest) -> None:
        post_id = str(item.get("id") or "")
        now = self.clock()
        if not post_id or not (
            take(walk, post_id, item.get("created_time"), now) or walk.took(post_id)
        ):
            return
        text = tidy(str(item.get("message") or ""))
        if not text:
            log.debug("source %s: post %s has no text; skipped", self.name, post_id)
            return
        author = as_dict(item.get("from"))
        mention = self.mention(
            post_id,
            url=item.get("permalink_url"),
            fallback_url=f"https://www.facebook.com/{post_id}",
            handle=str(author.get("id") or ""),
            name=str(author.get("name") or ""),
            text=text,
            created_at=parse_time(item.get("created_time"), now),
            raw=kept(item, RAW_FIELDS),
        )
        found.offer(mention, edit_time(item.get("updated_time")))

    # --- comments on the Page's posts -----------------------------------------------------
    async def _comments(
        self, http: httpx.AsyncClient, state: dict[str, Any], found: Latest
    ) -> float | None:
        mark = Watermark.load(as_dict(state.get("comments")), self.overlap)
        walk = Walk(mark, self.floor())
        feed_params = {"fields": FEED_FIELDS, "limit": self.options.posts}
        feed, pause = await paused_page(
            self.graph, http, f"/{self.page_id}/feed", feed_params, after=None, now=self.clock()
        )
        for post in [p for p in (feed.items if feed else []) if self._may_have_new(p, walk)]:
            if pause:
                break
            pause = await self._post_comments(http, post, walk, found)
        state["comments"] = finished(walk, mark, interrupted=pause is not None).dump()
        return pause

    def _may_have_new(self, post: dict[str, Any], walk: Walk) -> bool:
        """False for a post whose last activity is behind the watermark (or the backfill)."""
        if not isinstance(post.get("id"), str) or not post["id"]:
            return False
        now = self.clock()
        updated = parse_time(post.get("updated_time") or post.get("created_time"), now)
        if updated is now:
            return True  # unreadable or in the future: look
        floor = walk.old.since if walk.old.since is not None else walk.floor
        return floor is None or updated.timestamp() >= floor

    async def _post_comments(
        self, http: httpx.AsyncClient, post: dict[str, Any], walk: Walk, found: Latest
    ) -> float | None:
        post_id = str(post["id"])
        params = {
            "fields": COMMENT_FIELDS,
            "order": "reverse_chronological",
            "filter": "stream",
            "limit": self.page_size,
        }
        walk.reached_known = False
        after: str | None = None
        pause: float | None = None
        for _ in range(self.max_pages):
            try:
                page, pause = await paused_page(
                    self.graph, http, f"/{post_id}/comments", params, after=after, now=self.clock()
                )
            except GraphError as exc:
                if exc.code != _NOT_FOUND:
                    raise
                log.info("source %s: post %s is gone; comments skipped", self.name, post_id)
                break
            for item in page.items if page else []:
                self._comment(item, post, walk, found)
            after = page.after if page else None
            if walk.reached_known or not after or pause:
                break
        return pause

    def _comment(
        self, item: dict[str, Any], post: dict[str, Any], walk: Walk, found: Latest
    ) -> None:
        comment_id = str(item.get("id") or "")
        now = self.clock()
        if not comment_id or not (
            take(walk, comment_id, item.get("created_time"), now) or walk.took(comment_id)
        ):
            return
        author = as_dict(item.get("from"))
        text = tidy(str(item.get("message") or ""))
        if str(author.get("id") or "") == self.page_id or not text:
            return  # the Page's own reply, or a sticker or photo without words
        permalink = post.get("permalink_url")
        on_post = (
            permalink if isinstance(permalink, str) else f"https://www.facebook.com/{post['id']}"
        )
        separator = "&" if "?" in on_post else "?"
        mention = self.mention(
            comment_id,
            url=item.get("permalink_url"),
            fallback_url=f"{on_post}{separator}comment_id={comment_id.rpartition('_')[2]}",
            handle=str(author.get("id") or ""),
            name=str(author.get("name") or ""),
            text=text,
            created_at=parse_time(item.get("created_time"), now),
            raw=kept({**item, "post_id": post["id"]}, RAW_FIELDS),
        )
        found.offer(mention)

    # --- replies and threads (``_graph_public``) -----------------------------------------------
    max_reply = MAX_COMMENT

    def reply_path(self, mention: Mention, target: str) -> str:
        return f"/{target}/comments"  # on a post: a comment; on a comment: a reply to it

    def reply_url(self, mention: Mention, reply_id: str) -> str | None:
        short = reply_id.rpartition("_")[2]
        base = mention.url
        separator = "&" if "?" in base else "?"
        on_comment = "post_id" in mention.raw and "comment_id=" in base
        return f"{base}{separator}{'reply_comment_id' if on_comment else 'comment_id'}={short}"

    def thread_edge(self, mention: Mention, target: str) -> tuple[str, dict[str, Any]]:
        query = {"fields": THREAD_FIELDS, "filter": "stream", "order": "chronological"}
        return f"/{target}/comments", query

    def thread_item(self, item: dict[str, Any], mention: Mention) -> ThreadPost | None:
        comment_id = str(item.get("id") or "")
        author = as_dict(item.get("from"))
        author_id = str(author.get("id") or "")
        by_brand = author_id == self.page_id
        text = tidy(str(item.get("message") or ""))
        if not comment_id or not (text or by_brand):
            return None  # a sticker or photo without words, from a customer
        parent = as_dict(item.get("parent")).get("id")
        if not isinstance(parent, str) or not parent:
            parent = mention.id.removeprefix(f"{self.name}:")  # a comment on the post itself
        return thread_post(
            comment_id,
            author=author_id or str(author.get("name") or ""),
            text=text,
            created_at=parse_time(item.get("created_time"), self.clock()),
            url=item.get("permalink_url"),
            in_reply_to=parent
            if isinstance(parent, str) and parent
            else mention.id.removeprefix(f"{self.name}:"),
            by_brand=by_brand,
            max_text=self.options.max_text,
        )
