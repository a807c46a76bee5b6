"""The Facebook Graph API as the ``facebook`` and ``instagram`` sources use it.

One GET with the token in the ``Authorization`` header (never in the URL, so it stays out of
logs; the ``paging.next`` links Graph returns carry it, which is one reason they are not
followed verbatim: the next page is asked for with ``paging.cursors.after`` on our own base
URL, and only while ``paging.next`` says there is one). Graph signals throttling with HTTP
400/403 and an error code (4 application, 17 user, 32 page, 613 custom, 80001-80014 business
use case), not 429; the usage headers (``X-App-Usage``, ``X-Page-Usage``,
``X-Business-Use-Case-Usage``) give percentages of rolling one-hour budgets and, when a
budget is spent, ``estimated_time_to_regain_access`` in minutes. Above ``SLOW_FROM`` percent a
source pauses longer the nearer it is to the limit, so it never reaches it. An expired or
revoked token (code 190) says which variable to renew.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeGuard

import httpx
from pydantic import Field, StrictStr

from integrations.sources._base import BaseSource, Walk, Watermark, as_dict, as_list
from integrations.sources._http import get, json_body, pause_for
from integrations.sources._options import SourceOptions, Text
from integrations.sources._text import parse_time, tidy
from triagebot.errors import SourceError

log = logging.getLogger(__name__)

API_VERSION = "v22.0"
THROTTLED = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TOKEN_INVALID = 190
TRANSIENT = frozenset({1, 2})
MAX_LIMIT = 100  # the largest ``limit`` the edges read here accept
SLOW_FROM = 75.0  # percent of a budget from which polling slows down
WINDOW = 3600.0  # seconds: Graph budgets are rolling one-hour windows
LONGEST_SLOWDOWN = WINDOW / 4  # the pause at 100 % when Graph gives no estimate
_UNKNOWN = datetime(9000, 1, 1, tzinfo=UTC)  # "no date" to parse_time, never a real one
USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-ad-account-usage")
_TOKEN_SUBCODES = {
    458: "the app was removed",
    459: "the user must log in again",
    460: "the password changed",
    463: "the token expired",
    464: "the user is not confirmed",
    467: "the token is invalid",
    492: "the user lost the Page role",
}


@dataclass(frozen=True)
class Usage:
    """The highest usage any header reports (percent) and Graph's own wait, if it gave one."""

    percent: float = 0.0
    regain: float | None = None  # seconds, from estimated_time_to_regain_access

    def reason(self) -> str:
        if self.regain:
            return f"Graph API budget spent; it asks to wait {self.regain / 60:.0f} min"
        return f"Graph API usage at {self.percent:.0f} % of its hourly budget"

    def pause(self) -> float | None:
        """Seconds to wait before the next request, or None to go on."""
        if self.regain:
            return self.regain
        if self.percent < SLOW_FROM:
            return None
        share = min(1.0, (self.percent - SLOW_FROM) / (100.0 - SLOW_FROM))
        return max(60.0, LONGEST_SLOWDOWN * share)


def read_usage(headers: httpx.Headers) -> Usage:
    """The usage headers of one answer; malformed headers count as no usage."""
    percents: list[float] = []
    regain: list[float] = []
    for name in USAGE_HEADERS:
        percents.extend(_percents(_json_header(headers.get(name))))
    for entries in as_dict(_json_header(headers.get("x-business-use-case-usage"))).values():
        for entry in as_list(entries):
            percents.extend(_percents(entry))
            minutes = as_dict(entry).get("estimated_time_to_regain_access")
            if _is_number(minutes) and minutes > 0:
                regain.append(float(minutes) * 60.0)
    return Usage(max(percents, default=0.0), max(regain, default=None))


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _percents(entry: object) -> Iterator[float]:
    data = as_dict(entry)
    for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
        value = data.get(key)
        if _is_number(value):
            yield float(value)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class GraphError(SourceError):
    """A Graph API error answer; ``code`` is Graph's error code."""

    def __init__(self, message: str, code: int | None, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after)
        self.code = code

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLED


@dataclass(frozen=True)
class Page:
    """One page of an edge: its items, the cursor of the next page, the pause asked for."""

    items: list[dict[str, Any]]
    after: str | None
    pause: float | None


class Graph:
    """Requests to one Graph API version with one access token."""

    def __init__(
        self, source: str, base_url: str, token: str, variable: str, app_secret: str | None
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.variable = variable  # the environment variable to renew when the token dies
        self.reason: str | None = None  # why the last pause was asked for
        self.proof = (
            hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if app_secret
            else None
        )

    async def page(
        self,
        http: httpx.AsyncClient,
        path: str,
        params: Mapping[str, Any],
        after: str | None,
        now: datetime,
    ) -> Page:
        """One page of the edge at ``path`` (e.g. ``/123/tagged``)."""
        query = dict(params)
        if after:
            query["after"] = after
        if self.proof:
            query["appsecret_proof"] = self.proof
        response = await get(
            http,
            self.source,
            f"{self.base_url}{path}",
            params=query,
            headers={"Authorization": f"Bearer {self.token}"},
            now=now,
            ok=(200, 400, 401, 403),
        )
        usage = read_usage(response.headers)
        body = json_body(response, self.source)
        if response.status_code != 200 or "error" in as_dict(body):
            raise self.error(as_dict(body), response, usage, now)
        data = as_dict(body).get("data")
        if not isinstance(data, list):
            raise SourceError(f"{self.source}: unexpected answer from {path} (no data list)")
        paging = as_dict(as_dict(body).get("paging"))
        cursor = as_dict(paging.get("cursors")).get("after")
        has_next = isinstance(paging.get("next"), str) and isinstance(cursor, str) and cursor
        items = [item for item in data if isinstance(item, dict)]
        pause = usage.pause()
        if pause:
            self.reason = usage.reason()
        return Page(items, cursor if has_next else None, pause)

    def error(
        self, body: dict[str, Any], response: httpx.Response, usage: Usage, now: datetime
    ) -> GraphError:
        """A Graph error answer as a ``GraphError`` that says what to do about it."""
        error = as_dict(body.get("error"))
        code = _code(error.get("code"))
        subcode = _code(error.get("error_subcode"))
        said = tidy(str(error.get("message") or ""))[:160] or f"HTTP {response.status_code}"
        name = self.source
        if code in THROTTLED:
            wait = (
                usage.regain or pause_for(response, None, now) or max(usage.pause() or 0.0, 300.0)
            )
            return GraphError(f"{name}: rate limited by the Graph API (code {code})", code, wait)
        if code == TOKEN_INVALID:
            why = _TOKEN_SUBCODES.get(subcode or 0, "the token is invalid or expired")
            return GraphError(
                f"{name}: access token rejected (Graph API code 190: {why}); "
                f"create a new token and set {self.variable}",
                code,
            )
        if code == 10 or (code is not None and 200 <= code < 300):
            return GraphError(f"{name}: permission missing (Graph API code {code}): {said}", code)
        if code in TRANSIENT or error.get("is_transient") is True:
            return GraphError(f"{name}: temporary Graph API error (code {code})", code, 60.0)
        label = f"code {code}" if code is not None else f"HTTP {response.status_code}"
        return GraphError(f"{name}: Graph API error ({label}): {said}", code)


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


# --- what the Graph sources share ----------------------------------------------------------
class GraphOptions(SourceOptions):
    """Keys every Graph API source accepts."""

    access_token_env: Text | None = None
    app_secret_env: Text | None = None  # set when the app requires appsecret_proof
    reply_token_env: Text | None = None  # a token that may publish comments (see _graph_public)
    api_version: Annotated[StrictStr, Field(pattern=r"^v\d+\.\d+$")] = API_VERSION


def graph_for(source: BaseSource, token_default: str, secret_default: str) -> Graph:
    """The Graph client of a source: its token and optional app secret from the environment
    (``access_token_env``, ``app_secret_env``) and ``api_version``."""
    options = source.options
    assert isinstance(options, GraphOptions)
    if source.page_size > MAX_LIMIT:
        raise source.bad_option("page_size", f"must be at most {MAX_LIMIT} for the Graph API")
    variable = options.access_token_env or token_default
    token = source.credential("access_token_env", token_default) or ""
    secret = source.credential("app_secret_env", secret_default, required=False)
    return Graph(source.name, f"{source.base_url}/{options.api_version}", token, variable, secret)


async def paused_page(
    graph: Graph,
    http: httpx.AsyncClient,
    path: str,
    params: Mapping[str, Any],
    *,
    after: str | None,
    now: datetime,
) -> tuple[Page | None, float | None]:
    """One page and the pause it asks for, or (None, wait) when Graph throttles the call: a
    pause, not a failed poll, so what earlier pages found is kept."""
    try:
        page = await graph.page(http, path, params, after, now)
    except GraphError as exc:
        if not exc.throttled:
            raise
        log.warning("%s; pausing %.0f s", exc, exc.retry_after or 0.0)
        graph.reason = str(exc).removeprefix(f"{graph.source}: ")
        return None, exc.retry_after
    return page, page.pause


def take(walk: Walk, item_id: str, created: object, now: datetime) -> bool:
    """``Walk.take``, except that an unreadable date neither ends the walk nor moves the
    watermark: such an item is new unless its id was seen."""
    at = parse_time(created, now)
    if at is not now:
        return walk.take(item_id, at.timestamp())
    if item_id in walk.ids or item_id in walk.old.seen:
        return False
    walk.ids.add(item_id)
    walk.mark.seen[item_id] = now.timestamp()
    return True


def finished(walk: Walk, before: Watermark, *, interrupted: bool) -> Watermark:
    """The watermark to store: the walk's, or, when a pause cut the walk short, the old one
    with the ids taken remembered, so the next poll walks down to it again."""
    if not interrupted:
        return walk.mark
    return Watermark(before.newest, {**before.seen, **walk.mark.seen}, before.overlap)


def edit_time(value: object) -> float | None:
    """An item's ``updated_time`` as epoch seconds, for ``Latest.offer`` (None: unknown)."""
    at = parse_time(value, _UNKNOWN)
    return None if at is _UNKNOWN else at.timestamp()
