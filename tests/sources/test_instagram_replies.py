"""Instagram comment replies and reply threads against a loopback Graph API that checks the
publishing token, ``message`` and its length; replies nest one level, tagged media cannot be
commented on."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from integrations.common.answers import AnswerView
from integrations.sources._base import BaseSource
from tests.sources.conftest import Clock, MakeSource
from tests.sources.server import FIXTURES, FakeServer, Reply, Seen, json_reply
from tests.sources.test_facebook import graph_error
from tests.store.builders import make_case
from triagebot.actions.public import (
    PublicThreads,
    ReplyFailed,
    ReplyUnknown,
    post_refusal,
    reply_capable,
)
from triagebot.cases.identities import Identity
from triagebot.cases.records import CaseState, Mention, NewCase
from triagebot.config.settings import Settings
from triagebot.errors import NotAllowed
from triagebot.runtime.answering import Answering
from triagebot.store.tinydb_store import TinyDBStore

ACCOUNT = "17841405822304914"
TESS = "17870011223344556"  # a top-level comment
TESS_REPLY = "17870011223344561"  # a reply under it, by another customer
MEDIA = "17912345678901234"
READ, WRITE = "ig-read-token", "ig-publish-token"
ENV = {"INSTAGRAM_ACCESS_TOKEN": READ, "NW_IG_PUBLISH": WRITE}
TEXT = "Hi Tess, sorry about that! We've sent you a DM."
MANAGER = Identity("cli", "maria")  # a manager in the example configuration


def source_of(make_source: MakeSource) -> BaseSource:
    return make_source("instagram", env=ENV, account_id=ACCOUNT, reply_token_env="NW_IG_PUBLISH")


def public_of(source: BaseSource) -> PublicThreads:
    public = reply_capable(source)
    assert public is not None
    return public


def comment(source: BaseSource, comment_id: str, **raw: Any) -> Mention:
    return source.mention(
        comment_id,
        url=f"https://www.instagram.com/p/DG4xYz1/c/{comment_id}/",
        fallback_url="https://www.instagram.com/",
        handle="trailmix_tess",
        text="Can you also reverse the double charge on order NW-105317?",
        created_at=datetime(2025, 3, 14, 15, 40, 12, tzinfo=UTC),
        raw={"id": comment_id, "media_id": MEDIA, **raw},
    )


def publish(request: Seen) -> Reply:
    if request.headers.get("Authorization") != f"Bearer {WRITE}":
        return graph_error(10, "(#10) Application does not have permission for this action")
    message = parse_qs(request.body.decode()).get("message", [""])[0]
    if not message:
        return graph_error(100, "(#100) The parameter message is required")
    if len(message) > 2200:
        return graph_error(100, "(#100) Comment text is too long")
    return json_reply({"id": "17873440459141021"})


async def test_reply_goes_to_the_top_level_comment(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    path = f"/v22.0/{TESS}/replies"
    server.add(path, publish)
    source = source_of(make_source)
    public = public_of(source)
    sent = await public.reply(http, comment(source, TESS), TEXT, "r-1")
    assert sent.external_id == "17873440459141021"
    assert sent.url == f"https://www.instagram.com/p/DG4xYz1/c/{TESS}/"
    # A reply to a reply is posted under the top-level comment (Instagram nests one level).
    await public.reply(http, comment(source, TESS_REPLY, parent_id=TESS), TEXT, "r-2")
    assert [parse_qs(s.body.decode())["message"] for s in server.seen(path)] == [[TEXT]] * 2
    assert public.reply_problem("x" * 2_300) == "2,300 of 2,200 characters: shorten by 100"


async def test_tagged_media_cannot_be_answered_through_the_api(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = source_of(make_source)
    tagged = source.mention(
        MEDIA,
        url="https://www.instagram.com/p/DG4xYz1/",
        fallback_url="https://www.instagram.com/",
        handle="sam_on_trail",
        text="Tagged @northwind",
        created_at=datetime(2025, 3, 14, 15, 0, tzinfo=UTC),
        raw={"id": MEDIA, "caption": "Tagged"},
    )
    with pytest.raises(ReplyFailed, match="tagged in"):
        await public_of(source).reply(http, tagged, TEXT, "r-3")
    assert server.requests == []
    assert (await public_of(source).threads(http, [tagged]))[tagged.id].posts == ()


async def test_a_tagged_post_is_refused_before_anything_is_recorded(
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The per-post refusal reaches the replier as is: the card offers Mark answered instead
    of Reply, and a reply typed anyway (the CLI, an older card) is refused unrecorded."""
    source = source_of(make_source)
    public = public_of(source)
    tagged = source.mention(
        MEDIA, url="https://www.instagram.com/p/DG4xYz1/", fallback_url="https://www.instagram.com/",
        handle="sam_on_trail", text="Tagged @northwind",
        created_at=datetime(2025, 3, 14, 15, 0, tzinfo=UTC), raw={"id": MEDIA},
    )  # fmt: skip
    assert post_refusal(public, comment(source, TESS)) is None
    store = TinyDBStore(tmp_path / "db.json")
    try:
        case = make_case("1", state=CaseState.CLAIMED, claimed_by=MANAGER)
        store.add_cases([NewCase(replace(case, mention=tagged))])
        sources = {"instagram": public}
        answering = Answering(store, settings, sources, http, lambda: datetime.now(UTC))
        case = store.get_case("1")
        assert not answering.can_reply(case)
        why = answering.refusal(case) or ""
        assert why.startswith("instagram: Instagram does not let an account comment on media")
        assert why.endswith("answer in the Instagram app, then mark the case answered")
        assert answering.reply_problem(case, TEXT) == why
        assert AnswerView.of(case, answering.can_reply(case)).offers_answered
        with pytest.raises(NotAllowed) as refused:
            await answering.reply("1", MANAGER, "cli", TEXT)
        assert str(refused.value) == why
        assert store.get_case("1").replies == () and server.requests == []
    finally:
        store.close()


async def test_refusals_and_uncertain_replies(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    path = f"/v22.0/{TESS}/replies"
    limited = graph_error(4, "(#4) Application request limit reached", None, {"Retry-After": "120"})
    server.add(path, limited, times=1)
    server.add(path, json_reply({"error": {"message": "Please retry", "code": 2}}, 503), times=1)
    source = source_of(make_source)
    with pytest.raises(ReplyFailed) as raised:
        await public_of(source).reply(http, comment(source, TESS), TEXT, "r-4")
    assert raised.value.retry_after == 120.0
    with pytest.raises(ReplyUnknown):
        await public_of(source).reply(http, comment(source, TESS), TEXT, "r-5")
    assert len(server.seen(path)) == 2


async def test_thread_is_the_replies_under_the_comment(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, clock: Clock
) -> None:
    clock.now = datetime(2025, 3, 14, 20, 0, tzinfo=UTC)
    recorded = json.loads((FIXTURES / "instagram" / "media_comments.json").read_text())
    replies = recorded["data"][0]["replies"]
    server.add(f"/v22.0/{TESS}/replies", json_reply(replies))
    source = source_of(make_source)
    mention = comment(source, TESS)
    read = (await public_of(source).threads(http, [mention]))[mention.id]
    answer, other = read.posts
    assert answer.by_brand and answer.author == "northwind.outfitters"
    assert answer.in_reply_to == TESS
    assert answer.created_at == datetime(2025, 3, 14, 15, 44, tzinfo=UTC)
    assert not other.by_brand and other.author == "pack_and_go.example"
    (seen,) = server.seen(f"/v22.0/{TESS}/replies")
    assert seen.headers["Authorization"] == f"Bearer {READ}"


async def test_a_deleted_comment_is_gone(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    message = "Unsupported get request. Object with ID '17870011223344556' does not exist"
    server.add(f"/v22.0/{TESS}/replies", graph_error(100, message, subcode=33))
    source = source_of(make_source)
    mention = comment(source, TESS)
    assert (await public_of(source).threads(http, [mention]))[mention.id].gone == "deleted"
