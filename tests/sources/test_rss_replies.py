"""Feeds (RSS, Atom, Google Alerts) neither reply nor read threads: they say so in words."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.sources.conftest import MakeSource
from tests.sources.server import FakeServer
from triagebot.actions.public import ReplyFailed, reply_capable


async def test_a_feed_neither_replies_nor_reads_threads(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_source("rss", base_url=f"{server.url}/alerts/feed")
    public = reply_capable(source)
    assert public is not None
    assert not public.can_reply and not public.can_read_threads
    assert "mark the case answered" in (public.reply_problem("Thanks!") or "")
    mention = source.mention(
        "tag:google.com,2013:googlealerts/feed:1",
        url="https://trailgazette.example/2025/03/northwind",
        fallback_url="https://trailgazette.example",
        handle="trailgazette.example",
        text="Northwind Outfitters opens a store",
        created_at=datetime(2025, 3, 14, 15, 0, tzinfo=UTC),
    )
    with pytest.raises(ReplyFailed, match="no way to reply"):
        await public.reply(http, mention, "Thanks!", "k")
    assert await public.threads(http, [mention]) == {}
    assert server.requests == []
