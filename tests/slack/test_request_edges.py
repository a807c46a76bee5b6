"""Hostile requests to ``/slack/events`` over HTTP: every one is a 4xx, none reaches Bolt's 500.

The app is the real aiohttp application with Slack mounted (``tests/slack/conftest.py``);
requests are signed (or mis-signed) byte for byte as Slack signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

import pytest

from tests.fakes.slack_requests import SECRET, block_action, signed
from tests.slack.conftest import SlackWorld

FORM = "application/x-www-form-urlencoded"


def sign_raw(body: bytes, stamp: str, secret: str = SECRET) -> str:
    """The v0 signature of ``body`` at ``stamp``, over bytes (no decoding on the way)."""
    base = b"v0:" + stamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def send(world: SlackWorld, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with world.client.post("/slack/events", data=body, headers=headers) as response:
        return response.status, await response.text()


def click_body(world: SlackWorld) -> str:
    return block_action("case-claim", "{}", user="U1", channel="C0SUPPORT", message_ts="1.2",
                        response_url=world.fake.response_url())  # fmt: skip


NOW = str(int(time.time()))  # only for malformed variants, refused whenever they run


def now() -> str:
    return str(int(time.time()))


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
        pytest.param(None, id="missing"),
        pytest.param("9" * 5000, id="5000 digits"),
        pytest.param("9" * 20, id="far future"),
        pytest.param("1e9", id="exponent"),
        pytest.param("-1", id="negative"),
        pytest.param(NOW + "x", id="trailing letter"),
        pytest.param(NOW[:1] + "_" + NOW[1:], id="underscore"),
        pytest.param("".join(chr(ord(c) + 0xFEE0) for c in NOW), id="fullwidth digits"),
        pytest.param(NOW + ".5", id="fraction"),
    ],
)
async def test_a_timestamp_that_is_not_unix_seconds_is_refused(
    world: SlackWorld, stamp: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    body = click_body(world).encode()
    headers = {"Content-Type": FORM, "X-Slack-Signature": sign_raw(body, stamp or "")}
    if stamp is not None:
        headers["X-Slack-Request-Timestamp"] = stamp
    with caplog.at_level(logging.WARNING):
        status, text = await send(world, body, headers)
    assert status == 401, text
    assert "X-Slack-Request-Timestamp" in text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert world.fake.calls == []


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("v0=" + "é" * 64, id="non-ascii"),
        pytest.param("v0=" + "A" * 64, id="upper-case hex"),
        pytest.param("v1=" + "0" * 64, id="other version"),
        pytest.param("v0=" + "0" * 63, id="short"),
        pytest.param("v0=" + "0" * 64, id="wrong"),
    ],
)
async def test_a_malformed_signature_is_refused(
    world: SlackWorld, signature: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    body = click_body(world).encode()
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": now()}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    with caplog.at_level(logging.WARNING):
        status, text = await send(world, body, headers)
    assert status == 401, text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="broken json"),
        pytest.param(b"payload=%7Bnot-json", id="broken payload"),
        pytest.param(b"[" * 100_000, id="nested 100000 deep"),
        pytest.param(b"\xff\xfe\x00payload", id="not utf-8"),
    ],
)
async def test_unsigned_junk_is_refused_before_it_is_parsed(world: SlackWorld, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now(),
               "X-Slack-Signature": "v0=" + "0" * 64}  # fmt: skip
    status, _ = await send(world, body, headers)
    assert status == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"{not json", "application/json", id="broken json"),
        pytest.param(b"[1, 2]", "application/json", id="json list"),
        pytest.param(b"payload=%7Bnot-json", FORM, id="broken payload"),
        pytest.param(b"[" * 100_000, "application/json", id="nested 100000 deep"),
        pytest.param(b"\xff\xfe\x00payload", FORM, id="not utf-8"),
    ],
)
async def test_a_signed_body_that_cannot_be_read_is_a_400(
    world: SlackWorld, body: bytes, content_type: str
) -> None:
    stamp = now()
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": sign_raw(body, stamp)}  # fmt: skip
    status, _ = await send(world, body, headers)
    assert status == 400


async def test_an_unknown_charset_does_not_stop_a_signed_click(world: SlackWorld) -> None:
    body = click_body(world)
    headers = signed(body) | {"Content-Type": FORM + "; charset=no-such-charset"}
    status, _ = await send(world, body.encode(), headers)
    assert status == 200


async def test_a_good_request_still_passes(world: SlackWorld) -> None:
    body = click_body(world)
    status, _ = await world.post(body)
    assert status == 200
