"""The door of ``POST /slack/events``: only fresh requests signed with the signing secret pass.

Slack signs ``v0:{X-Slack-Request-Timestamp}:{body}`` with HMAC-SHA256 and sends the digest as
``X-Slack-Signature: v0=<hex>``. The check here runs before Bolt sees the request, because
Bolt's own parsing and verification raise (a 500) on some inputs any stranger can send: a
timestamp that is not a number (``int("abc")``), a body that is not UTF-8, a signature with
non-ASCII characters (``hmac.compare_digest`` on ``str``), an unsigned body that is not JSON.
Refusals are 401 (not from Slack) or 400 (signed, but unreadable); Bolt still verifies again.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: How far the timestamp may be from our clock, as Slack's own verifier allows (seconds).
MAX_SKEW = 300
#: Unix seconds have 10 digits until the year 2286; anything longer is not Slack's.
MAX_TIMESTAMP_DIGITS = 12
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Refusal:
    """Why a request does not reach Bolt: the HTTP status and a short reason."""

    status: int
    reason: str


def check_signed(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    clock: Callable[[], float] = time.time,
) -> Refusal | None:
    """``None`` when ``body`` is signed with ``secret`` at a time near ``clock()``."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not _is_timestamp(stamp):
        return Refusal(401, "X-Slack-Request-Timestamp is missing or not Unix seconds")
    if abs(clock() - int(stamp)) > MAX_SKEW:
        return Refusal(401, "X-Slack-Request-Timestamp is more than 5 minutes away")
    digest = signature.removeprefix("v0=")
    if not signature.startswith("v0=") or len(digest) != 64 or not set(digest) <= _HEX:
        return Refusal(401, "X-Slack-Signature is missing or not v0=<64 hex digits>")
    expected = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest().encode(), digest.encode()):
        return Refusal(401, "X-Slack-Signature does not match")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "the body is not UTF-8")
    return None


def _is_timestamp(value: str) -> bool:
    return 0 < len(value) <= MAX_TIMESTAMP_DIGITS and value.isascii() and value.isdigit()
