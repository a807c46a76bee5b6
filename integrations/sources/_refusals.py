"""A platform's refusal of a reply in words for the replier, and the write credentials a
source reads apart from its read ones.

``refusal`` turns a 4xx answer into ``ReplyFailed``: 401 says the token was refused and which
variable to renew, 429 carries the pause from the platform's reset header, the others quote
the platform's own message (one line, cut short). ``write_credentials`` reads the variables
named by a block's ``reply_*_env`` options: a variable that is not set never stops polling, it
only leaves the source unable to reply, and ``triagebot sources`` names it (``reply_missing``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx

from integrations.sources._http import RateLimit, pause_for
from triagebot.actions.public import ReplyFailed

#: The pause asked for when a platform says 429 without saying how long.
DEFAULT_PAUSE = 60.0
_DETAIL_KEYS = ("detail", "message", "error_description", "error", "title")


def platform_message(response: httpx.Response, size: int = 200) -> str:
    """The platform's own words in an error answer (JSON ``detail``/``message``/``error`` or
    the first of ``errors``), on one line and cut short; empty when it said nothing."""
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, RecursionError):
        return ""
    said = _said(body)
    return " ".join(said.split())[:size]


def _said(body: object) -> str:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return _said(errors[0])
        for key in _DETAIL_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
        return ""
    if isinstance(body, list) and body:
        return " ".join(str(part) for part in body[:2] if isinstance(part, str))
    return body if isinstance(body, str) else ""


def refusal(
    response: httpx.Response,
    platform: str,
    *,
    now: datetime,
    limit: RateLimit | None = None,
    token_hint: str = "reconnect the brand account",
) -> ReplyFailed:
    """``ReplyFailed`` for a 4xx answer to a reply (nothing was posted)."""
    status = response.status_code
    said = platform_message(response)
    words = f": {said}" if said else ""
    if status == 429:
        wait = pause_for(response, limit, now) or DEFAULT_PAUSE
        return ReplyFailed(
            f"{platform} asks to wait before posting again (429): try again in {wait:.0f} s",
            retry_after=wait,
        )
    if status == 401:
        return ReplyFailed(f"{platform} refused the token (401): {token_hint}{words}")
    if status == 403:
        return ReplyFailed(f"{platform} does not allow this reply (403){words}")
    if status == 404:
        return ReplyFailed(f"{platform} no longer has the post (404): it may have been deleted")
    if status == 413:
        return ReplyFailed(f"{platform} refused the reply as too large (413){words}")
    return ReplyFailed(f"{platform} refused the reply ({status}){words}")


def write_credentials(
    env: Mapping[str, str], variables: Sequence[str]
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The values of ``variables`` that are set, and the names of those that are not."""
    values = {v: env.get(v, "").strip() for v in variables}
    return {k: v for k, v in values.items() if v}, tuple(k for k, v in values.items() if not v)
