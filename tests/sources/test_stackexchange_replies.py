"""Stack Exchange comments and question threads against a loopback API that checks what the
real one checks: the write_access token and the app key, ``site``, the 15-600 character rule,
errors as wrappers with ``error_id`` (``throttle_violation`` with its wait), a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from integrations.sources._base import BaseSource
from tests.sources.conftest import MakeSource
from tests.sources.server import FakeServer, Reply, Seen, fixture_reply, json_reply
from triagebot.actions.public import PublicThreads, ReplyFailed, ReplyUnknown, reply_capable
from triagebot.cases.records import Mention

QUESTION = 33841
ADD = f"/2.3/posts/{QUESTION}/comments/add"
APP_KEY, WRITE = "app-key-U4DMV*8nvpm", "write-token-(abc)"
ENV = {"STACKEXCHANGE_KEY": APP_KEY, "NW_SE_WRITE": WRITE}
LINK = "https://outdoors.stackexchange.com/questions/33841/how-can-i-repair-a-split-zipper"
TEXT = "Hi Zeke, the Ridgeline zipper is covered by our lifetime warranty."


def source_of(make_source: MakeSource, **options: Any) -> BaseSource:
    options.setdefault("reply_access_token_env", "NW_SE_WRITE")
    options.setdefault("key_env", "STACKEXCHANGE_KEY")
    return make_source("stackexchange", env=ENV, site="outdoors", **options)


def public_of(source: BaseSource) -> PublicThreads:
    public = reply_capable(source)
    assert public is not None
    return public


def question(source: BaseSource, question_id: int = QUESTION) -> Mention:
    return source.mention(
        str(question_id),
        url=LINK if question_id == QUESTION else f"{LINK}-{question_id}",
        fallback_url=LINK,
        handle="Zeke Marsh",
        text="How can I repair a split zipper on a Northwind Ridgeline?",
        created_at=datetime(2025, 3, 14, 11, 0, tzinfo=UTC),
        raw={"question_id": question_id},
    )


def error(error_id: int, name: str, message: str) -> Reply:
    body = {"error_id": error_id, "error_name": name, "error_message": message}
    return json_reply(body, 400)


def add_comment(request: Seen) -> Reply:
    """``/posts/{id}/comments/add`` as the API checks it."""
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    if request.method != "POST":
        return error(404, "no_method", "this method cannot be called this way")
    if form.get("key") != APP_KEY:
        return error(405, "key_required", "`key` is required when `access_token` is passed")
    if form.get("access_token") != WRITE:
        return error(402, "invalid_access_token", "access_token is invalid")
    if form.get("site") != "outdoors":
        return error(400, "bad_parameter", "site is required")
    body = form.get("body", "")
    if not 15 <= len(body) <= 600:
        return error(400, "bad_parameter", "body must be between 15 and 600 characters")
    comment = {
        "owner": {"user_id": 52001, "display_name": "Northwind Outfitters"},
        "edited": False,
        "score": 0,
        "creation_date": 1741968000,
        "post_id": QUESTION,
        "comment_id": 138250,
        "body": body,
    }
    return json_reply({"items": [comment], "quota_max": 10000, "quota_remaining": 9957})


async def test_comment_with_the_write_token_and_key(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    server.add(ADD, add_comment)
    source = source_of(make_source)
    public = public_of(source)
    assert public.can_reply
    sent = await public.reply(http, question(source), TEXT, "r-1")
    assert sent.external_id == "138250"
    assert sent.url == f"{LINK}#comment138250_{QUESTION}"
    (seen,) = server.seen(ADD)
    form = parse_qs(seen.body.decode())
    assert form["body"] == [TEXT] and form["preview"] == ["false"]
    assert WRITE not in str(seen.query)  # the token travels in the body, not the URL


def test_length_rule_in_words(make_source: MakeSource) -> None:
    public = public_of(source_of(make_source))
    assert public.reply_problem("Thanks!") == (
        "7 characters: a Stack Exchange comment needs at least 15; add 8"
    )
    assert public.reply_problem("x" * 612) == "612 of 600 characters: shorten by 12"
    assert public.reply_problem(TEXT) is None


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"NW_SE_WRITE": "revoked"}, r"invalid_access_token.*renew the write_access token"),
        ({"STACKEXCHANGE_KEY": "other-app"}, "key_required"),
    ],
)
async def test_refused_credentials_are_said(
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    env: dict[str, str],
    match: str,
) -> None:
    server.add(ADD, add_comment)
    source = make_source(
        "stackexchange",
        env=ENV | env,
        site="outdoors",
        key_env="STACKEXCHANGE_KEY",
        reply_access_token_env="NW_SE_WRITE",
    )
    with pytest.raises(ReplyFailed, match=match):
        await public_of(source).reply(http, question(source), TEXT, "r-2")


async def test_throttle_violation_waits_as_told(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    message = "too many requests from this IP, more requests available in 43127 seconds"
    server.add(ADD, error(502, "throttle_violation", message))
    source = source_of(make_source)
    with pytest.raises(ReplyFailed, match="throttle_violation") as raised:
        await public_of(source).reply(http, question(source), TEXT, "r-3")
    assert raised.value.retry_after == 43127.0


@pytest.mark.parametrize(
    "reply",
    [error(500, "internal_error", "An unexpected error occurred"), Reply(b"", 503)],
)
async def test_internal_errors_are_uncertain_and_sent_once(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource, reply: Reply
) -> None:
    server.add(ADD, reply)
    source = source_of(make_source)
    with pytest.raises(ReplyUnknown):
        await public_of(source).reply(http, question(source), TEXT, "r-4")
    assert len(server.seen(ADD)) == 1


def test_write_credentials(make_source: MakeSource) -> None:
    reading = make_source("stackexchange", env=ENV, site="outdoors")
    assert not public_of(reading).can_reply
    assert reading.reply_missing == ("STACKEXCHANGE_REPLY_ACCESS_TOKEN",)  # type: ignore[attr-defined]
    keyless = make_source(
        "stackexchange",
        env={"NW_SE_WRITE": WRITE},
        site="outdoors",
        reply_access_token_env="NW_SE_WRITE",
    )
    assert not public_of(keyless).can_reply  # a token needs the app key to write
    assert keyless.reply_missing == ("STACKEXCHANGE_KEY",)  # type: ignore[attr-defined]
    unset = source_of(make_source, reply_access_token_env="NW_UNSET")  # polling goes on
    assert unset.reply_missing == ("NW_UNSET",)  # type: ignore[attr-defined]


def install_thread(server: FakeServer) -> None:
    ids = f"{QUESTION};33838"
    server.add(f"/2.3/questions/{ids}", fixture_reply("stackexchange", "thread_questions.json"))
    for path, name in (
        (f"/2.3/questions/{ids}/answers", "thread_answers.json"),
        (f"/2.3/posts/{ids}/comments", "thread_question_comments.json"),
        ("/2.3/posts/33842;33844/comments", "thread_answer_comments.json"),
    ):
        server.add(path, fixture_reply("stackexchange", name), filter="withbody")


async def test_thread_reads_answers_and_comments_of_many_questions_in_four_calls(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    install_thread(server)
    source = source_of(make_source, brand_user_ids=[52001])
    public = public_of(source)
    zeke, deleted = question(source), question(source, 33838)
    reads = await public.threads(http, [zeke, deleted])
    assert reads[deleted.id].gone == "deleted"  # not in /questions any more
    posts = {p.id: p for p in reads[zeke.id].posts}
    assert set(posts) == {"33842", "33844", "138221", "138240"}
    brand = posts["33844"]
    assert brand.by_brand and brand.author == "Northwind Outfitters"
    assert brand.url == "https://outdoors.stackexchange.com/a/33844"
    assert brand.created_at == datetime.fromtimestamp(1741960100, UTC)
    hank = posts["33842"]
    assert hank.author == "Gear & Repair Hank" and not hank.by_brand
    assert "<script>alert(1)</script>" in hank.text  # shown as code text, never markup
    follow_up = posts["138240"]
    assert follow_up.in_reply_to == "33844" and follow_up.author == "Zeke Marsh"
    assert follow_up.text == (
        "Thanks — I filed it, but the form says my order number NW-104822 is invalid. <!channel>"
    )
    assert follow_up.url == f"{LINK}#comment138240_33844"
    assert len(server.requests) == 4
    assert all(r.query["key"] == APP_KEY and "access_token" not in r.query for r in server.requests)
    assert public.thread_budget.requests == 2_500 and public.thread_budget.batch == 30


async def test_throttled_thread_read_is_a_source_error_with_its_wait(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    message = "too many requests from this IP, more requests available in 60 seconds"
    server.add(f"/2.3/questions/{QUESTION}", error(502, "throttle_violation", message))
    source = source_of(make_source)
    with pytest.raises(Exception, match="throttle_violation") as raised:
        await public_of(source).threads(http, [question(source)])
    assert getattr(raised.value, "retry_after", None) == 60.0
