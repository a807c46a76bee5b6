"""Google Play: reviews of one of your own apps (Android Publisher v3 ``reviews.list``).

``package_name`` names the app; ``service_account_json_env`` names the variable holding the
JSON key of a service account that was given access to the app in the Play Console. The API
returns the reviews created or changed in the last week, newest change first, and pages with
``tokenPagination.nextPageToken``; each poll walks until it reaches reviews behind the
watermark (the newest ``lastModified`` seen); a walk cut short (a 429, a timeout) goes on
from its page token at the next poll. An edited review keeps its ``reviewId``, so of two
copies the later one wins. A review without the reviewer's text (removed, or a rating
alone) is not a mention. ``userComment.text`` is the title and the body joined by a tab.
Reviews have no public page of their own; the link is the app's store page.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

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
)
from integrations.sources._google_auth import ServiceAccountToken, read_key
from integrations.sources._http import get, json_body
from integrations.sources._options import Text
from integrations.sources._refusals import write_credentials
from integrations.sources._resume import ResumableWalk
from integrations.sources._text import join, language, parse_time, tidy
from integrations.sources.googleplay_public import GooglePlayPublic, GooglePlayPublicOptions
from triagebot.cases.records import Mention
from triagebot.errors import SourceError
from triagebot.ingest.sources import PollResult

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
KEY_VARIABLE = "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON"
REPLY_KEY_VARIABLE = "GOOGLE_PLAY_REPLY_SERVICE_ACCOUNT_JSON"
#: What a stored case keeps of a review (``raw``): its id (replies go by the mention's id).
RAW_FIELDS = ("reviewId",)
#: Answers read as JSON: Google explains a refusal in an ``error`` object.
_OK = (200, 400, 401, 403, 404)
_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")


class GooglePlayOptions(GooglePlayPublicOptions):
    package_name: Text | None = None  # required: com.example.app
    service_account_json_env: Text = KEY_VARIABLE
    translation_language: Text | None = None  # reviews translated into this language (en)


class GooglePlaySource(BaseSource, GooglePlayPublic):
    kind = "googleplay"
    default_base_url = "https://androidpublisher.googleapis.com"
    default_page_size = 100
    options_model = GooglePlayOptions
    options: GooglePlayOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        package = self.options.package_name
        if not package or not _PACKAGE.fullmatch(package):
            raise self.bad_option(
                "package_name", "the app's package name is required (com.example.app)"
            )
        self.package = package
        self.translation = self.options.translation_language
        self.token = self._token("service_account_json_env", KEY_VARIABLE)
        self.reply_token = None
        variable = self.options.reply_service_account_json_env or REPLY_KEY_VARIABLE
        found, self.reply_missing = write_credentials(self.env, [variable])
        if found:  # a variable that is not set only leaves the source unable to reply
            self.reply_token = self._token("reply_service_account_json_env", variable)

    def _token(self, option: str, default: str) -> ServiceAccountToken:
        """The token of the service-account key in the variable named by ``option``."""
        key_text = self.credential(option, default)
        variable = getattr(self.options, option) or default
        try:
            return ServiceAccountToken(read_key(key_text or ""), SCOPE)
        except ValueError as exc:
            raise self.bad_option(
                option, f"{variable} does not hold a usable service-account JSON key: {exc}"
            ) from None

    async def poll(self, http: httpx.AsyncClient, cursor: str | None) -> PollResult:
        walk = ResumableWalk(load_cursor(cursor, self.name), self.overlap, self.floor())
        latest = Latest()
        page_token = walk.start if isinstance(walk.start, str) else None
        for count in range(self.max_pages):
            try:
                body = await self._page(http, page_token)
            except SourceError as exc:
                if count == 0 and walk.start is not None and exc.retry_after is None:
                    log.warning("source %s: cannot go on with the last walk: %s", self.name, exc)
                    walk.abandon()  # e.g. the page token expired
                    page_token = None
                    continue
                if count == 0:
                    raise
                log.warning("source %s: walk stopped: %s", self.name, exc)
                cursor = dump_cursor(walk.dump(page_token))
                why = f"stopped at a later page: {str(exc).removeprefix(self.name + ': ')}"
                reason = why if exc.retry_after else None
                return PollResult(latest.mentions(), cursor, exc.retry_after, reason, errors=[why])
            async for review in in_turns(map(as_dict, as_list(body.get("reviews")))):
                self._review(walk, review, latest)
            page_token = as_dict(body.get("tokenPagination")).get("nextPageToken")
            if walk.reached_known or not isinstance(page_token, str) or not page_token:
                return PollResult(latest.mentions(), dump_cursor(walk.dump()))
        walk.walk.note_truncated(self.name, self.max_pages)
        return PollResult(latest.mentions(), dump_cursor(walk.dump(page_token)))

    def _review(self, walk: ResumableWalk, review: dict[str, Any], latest: Latest) -> None:
        """Offer the review if it is new (or a later copy of one this walk took)."""
        review_id = review.get("reviewId")
        if not isinstance(review_id, str) or not review_id.strip():
            return
        now = self.clock()
        at = self._modified(review)
        # An unreadable date counts as the watermark's own time: the review is judged by its
        # id and does not move the watermark past reviews that are still to come.
        judged = at if at is not None else (walk.walk.old.newest or now.timestamp())
        if walk.take(review_id, judged) or walk.took(review_id):
            latest.offer(self._mention(review_id, review, parse_time(at, now)), judged)

    async def _page(self, http: httpx.AsyncClient, page_token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"maxResults": self.page_size}
        if page_token:
            params["token"] = page_token
        if self.translation:
            params["translationLanguage"] = self.translation
        package = quote(self.package, safe="")
        url = f"{self.base_url}/androidpublisher/v3/applications/{package}/reviews"
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {await self.token.bearer(http, self.name)}"}
            response = await get(
                http, self.name, url, params=params, headers=headers, now=self.clock(), ok=_OK
            )
            body = json_body(response, self.name)
            if response.status_code == 200:
                if not isinstance(body, dict):
                    raise SourceError(f"{self.name}: unexpected answer (not an object)")
                return body
            if response.status_code == 401 and attempt == 1:
                self.token.forget()  # revoked or expired early: exchange a new one once
                continue
            raise SourceError(f"{self.name}: {_refusal(response.status_code, body)}")
        raise AssertionError("unreachable")

    @staticmethod
    def _modified(review: dict[str, Any]) -> float | None:
        """The user comment's ``lastModified`` as epoch seconds, None if unreadable."""
        stamp = as_dict(user_comment(review).get("lastModified"))
        seconds = stamp.get("seconds")
        try:
            value = float(seconds) if isinstance(seconds, str | int) else None
        except ValueError:
            return None
        if value is None or not 0 < value < 32503680000:  # up to the year 3000
            return None
        nanos = stamp.get("nanos")
        return value + (nanos / 1e9 if isinstance(nanos, int) and 0 <= nanos < 10**9 else 0.0)

    def _mention(self, review_id: str, review: dict[str, Any], at: datetime) -> Mention | None:
        comment = user_comment(review)
        raw_text = comment.get("text")
        if not isinstance(raw_text, str) or not tidy(raw_text):
            return None  # no words left: a rating alone, or a removed review
        title, _, body = raw_text.partition("\t") if "\t" in raw_text else ("", "", raw_text)
        stars = comment.get("starRating")
        rating = f"{stars}★" if isinstance(stars, int) and 1 <= stars <= 5 else ""
        author = tidy(str(review.get("authorName") or ""))
        page = f"https://play.google.com/store/apps/details?id={quote(self.package, safe='.')}"
        return self.mention(
            review_id,
            url=f"{page}&reviewId={quote(review_id, safe='')}",
            fallback_url=page,
            handle=author,
            name=author,
            text=join(join(rating, tidy(title), sep=" "), tidy(body), sep="\n"),
            created_at=at,
            lang=language(comment.get("reviewerLanguage")),
            raw=kept(review, RAW_FIELDS),
        )


def user_comment(review: dict[str, Any]) -> dict[str, Any]:
    """The reviewer's own comment (not the developer's reply)."""
    for comment in map(as_dict, as_list(review.get("comments"))):
        if "userComment" in comment:
            return as_dict(comment.get("userComment"))
    return {}


def _refusal(status: int, body: object) -> str:
    """Google's error answer in one line: ``HTTP 403 PERMISSION_DENIED: <message>``."""
    error = as_dict(as_dict(body).get("error"))
    label = " ".join(p for p in (f"HTTP {status}", str(error.get("status") or "")[:40]) if p)
    message = " ".join(str(error.get("message") or "").split())[:200] or "no message"
    hint = ""
    if status in (401, 403):
        hint = " (is the service account invited to the app in the Play Console?)"
    return f"{label}: {message}{hint}"
