"""Apple App Store customer reviews: the public JSON feed, newest first, per storefront.

``app_id`` names the app, ``country`` the storefront (default ``us``). The feed has at most
ten pages and no cursor: each poll reads from page 1 until it reaches reviews behind the
watermark (the newest review time seen, with the ids near it). Every value is wrapped as
``{"label": ...}``; ``entry`` is an object, not a list, when there is one review, and is absent
when there are none. Reviews have no page of their own, so the link is the app's review page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import StrictInt, StrictStr

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
from integrations.sources._refusals import write_credentials
from integrations.sources._resume import ResumableWalk
from integrations.sources._text import join, parse_time, tidy
from integrations.sources.appstore_public import (
    ISSUER_VARIABLE,
    KEY_ID_VARIABLE,
    PRIVATE_KEY_VARIABLE,
    AppStorePublic,
    AppStorePublicOptions,
    ConnectKey,
)
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

LAST_PAGE = 10
#: What a stored case keeps of a feed entry (``raw``): its id, and the nickname, title, rating
#: and body a reply matches the App Store Connect review by (``appstore_public``).
RAW_FIELDS = ("id", "author.name", "title", "im:rating", "content")


def label(value: object) -> str:
    """The text of a ``{"label": ...}`` wrapper (or of a list of them: the first)."""
    if isinstance(value, list):
        value = value[0] if value else None
    text = as_dict(value).get("label")
    return text if isinstance(text, str) else ""


class AppStoreOptions(AppStorePublicOptions):
    app_id: StrictStr | StrictInt | None = None  # required: the app's numeric id
    country: Text = "us"  # the storefront


class AppStoreSource(BaseSource, AppStorePublic):
    kind = "appstore"
    default_base_url = "https://itunes.apple.com"
    options_model = AppStoreOptions
    options: AppStoreOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app_id = self.options.app_id
        if app_id is None or isinstance(app_id, bool) or not str(app_id).isdigit():
            raise self.bad_option("app_id", "the app's numeric App Store id is required")
        self.app_id = str(app_id)
        self.country = self.options.country.lower()
        self.connect_key = self._connect_key()
        self.matched = {}

    def _connect_key(self) -> ConnectKey | None:
        """The App Store Connect API key from its three variables; any of them not set only
        leaves the source unable to reply and read responses (``reply_missing``)."""
        options = self.options
        variables = [
            options.connect_issuer_id_env or ISSUER_VARIABLE,
            options.connect_key_id_env or KEY_ID_VARIABLE,
            options.connect_private_key_env or PRIVATE_KEY_VARIABLE,
        ]
        values, self.reply_missing = write_credentials(self.env, variables)
        if self.reply_missing:
            return None
        issuer, key_id, pem = (values[v] for v in variables)
        try:
            return ConnectKey.read(issuer, key_id, pem)
        except ValueError as exc:
            raise self.bad_option("connect_private_key_env", f"{variables[2]}: {exc}") from None

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        resumable = ResumableWalk(load_cursor(cursor, self.name), self.overlap, self.floor())
        walk = resumable.walk
        first = resumable.start if isinstance(resumable.start, int) else 1
        latest = Latest()
        errors: list[tuple[str, SourceError]] = []
        stopped: int | None = None  # the page to go on from, when the walk stops early
        for page in range(first, min(first + self.max_pages, LAST_PAGE + 1)):
            now = self.clock()
            try:
                reviews = await self._page(http, page, now)
            except SourceError as exc:
                if page == first:
                    raise
                errors.append((f"page {page}", exc))  # keep the pages read; go on later
                stopped = page
                break
            async for review in in_turns(reviews):
                latest.offer(self._take(walk, review, now))  # a repeat: the later copy wins
            if not reviews or walk.reached_known or page == LAST_PAGE:
                stopped = None
                break
            stopped = page + 1  # max_pages: the rest of the walk waits for the next poll
        cursor_text = dump_cursor(resumable.dump(stopped))
        return partial_result(latest, cursor_text, None, errors, len(errors) + 1)

    async def _page(self, http: httpx.AsyncClient, page: int, now: datetime) -> list[Any]:
        """The reviews of one page of the feed (the app's own entry left out)."""
        url = (
            f"{self.base_url}/{self.country}/rss/customerreviews/page={page}"
            f"/id={self.app_id}/sortBy=mostRecent/json"
        )
        body = as_dict(json_body(await get(http, self.name, url, now=now), self.name))
        if "feed" not in body:
            raise SourceError(f"{self.name}: unexpected answer (no feed)")
        entries = as_list(as_dict(body.get("feed")).get("entry"))
        return [e for e in map(as_dict, entries) if "im:rating" in e]

    def _take(self, walk: Walk, review: dict[str, Any], now: datetime) -> Mention | None:
        review_id = label(review.get("id"))
        created = parse_time(label(review.get("updated")), now)
        if not review_id:
            return None
        if not (walk.take(review_id, created.timestamp()) or walk.took(review_id)):
            return None
        author = label(as_dict(review.get("author")).get("name"))
        rating = label(review.get("im:rating"))
        title = tidy(label(review.get("title")))
        stars = f"{rating}★ " if rating.isdigit() else ""
        page = f"https://apps.apple.com/{self.country}/app/id{self.app_id}?see-all=reviews"
        return self.mention(
            review_id,
            url=f"{page}#review-{review_id}",
            fallback_url=page,
            handle=author,
            name=author,
            text=join(f"{stars}{title}".strip(), tidy(label(review.get("content"))), sep="\n"),
            created_at=created,
            raw=kept(review, RAW_FIELDS),
        )
