"""Discourse search and latest posts over a loopback forum that checks what Discourse checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.sources import build_specs
from tests.sources.conftest import POLL1, Clock, MakeSource
from tests.sources.server import FIXTURES, FakeServer, Reply, Seen, json_reply
from triagebot.config.settings import Settings, load_settings
from triagebot.errors import ConfigError, MissingCredentials, SourceError
from triagebot.ingest.polling import Poller
from triagebot.ingest.sources import SourceSpec
from triagebot.runtime.wiring import Runtime

SEARCH = "/search.json"
POSTS = "/posts.json"
EXAMPLE = Path(__file__).resolve().parents[2] / "triagebot.example.toml"
FORBIDDEN = {"errors": ["You are not permitted to view the requested resource."]}


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "discourse" / name).read_text())
    return data


def search_body(posts: list[Any], topics: list[dict[str, Any]], more: bool) -> Any:
    result = {"more_full_page_results": True if more else None, "error": None}
    return {"posts": posts, "topics": topics, "users": [], "grouped_search_result": result}


def hit(post_id: Any, created_at: Any, blurb: str = "Northwind help", **more: Any) -> Any:
    post = {"id": post_id, "username": f"user{post_id}", "name": None, "topic_id": 7}
    return post | {"created_at": created_at, "blurb": blurb, "post_number": 2} | more


TOPIC = {"id": 7, "title": "Northwind question", "slug": "northwind-question"}


def latest_post(post_id: int, minutes_ago: int, cooked: str, **more: Any) -> Any:
    created = (POLL1 - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    post = {"id": post_id, "username": f"u{post_id}", "name": f"User {post_id}"}
    post |= {"created_at": created, "cooked": cooked, "post_number": 1, "post_type": 1}
    return (
        post
        | {"topic_id": 50 + post_id, "topic_slug": f"t-{post_id}", "topic_title": "Gear"}
        | more
    )


@dataclass
class FakeForum:
    """``/search.json`` and ``/posts.json``; with ``api_key`` set, a private forum."""

    server: FakeServer
    api_key: str | None = None
    pages: dict[int, Reply] = field(default_factory=dict)
    posts: dict[int | None, Reply] = field(default_factory=dict)

    def install(self) -> None:
        self.server.add(SEARCH, self.search)
        self.server.add(POSTS, self.latest)

    def _refused(self, request: Seen) -> Reply | None:
        if self.api_key is None:
            return None
        key, user = request.headers.get("Api-Key"), request.headers.get("Api-Username")
        if key != self.api_key or not user:
            return json_reply(FORBIDDEN | {"error_type": "invalid_access"}, 403)
        return None

    def search(self, request: Seen) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if len(request.query.get("q", "")) < 3:
            return json_reply({"errors": ["Your search term is too short."]}, 400)
        page = int(request.query.get("page", "1"))
        return self.pages.get(page) or json_reply(fixture("search_empty.json"))

    def latest(self, request: Seen) -> Reply:
        refused = self._refused(request)
        if refused is not None:
            return refused
        before = request.query.get("before")
        return self.posts.get(int(before) if before else None) or json_reply({"latest_posts": []})


@pytest.fixture
def forum(server: FakeServer) -> FakeForum:
    fake = FakeForum(server)
    fake.install()
    fake.pages = {
        1: json_reply(fixture("search_page1.json")),
        2: json_reply(fixture("search_page2.json")),
    }
    return fake


def queries(server: FakeServer) -> list[tuple[str, str]]:
    return [(r.query["q"], r.query["page"]) for r in server.seen(SEARCH)]


async def test_search_walks_pages_and_joins_topics(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    source = make_source("discourse", query="northwind")
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    manifest = json.loads((FIXTURES / "discourse" / "manifest.json").read_text())
    expected = list(dict.fromkeys(i for f in manifest["files"] for i in f["ids"]))
    assert ids == [f"discourse:{i}" for i in expected]  # D5 on both pages is one mention
    first = result.mentions[0]
    assert first.url == f"{server.url}/t/northwind-cirrus-20-lost-loft-after-washing/4821/5"
    assert first.text.startswith(
        "Northwind Cirrus 20 lost loft after washing\n\nSame thing happened to mine."
    )
    assert first.author.handle == "ultralight_ray"
    assert first.author.name == "Ray Okafor"
    assert first.created_at.isoformat() == "2025-03-14T15:22:08.417000+00:00"
    spam = next(m for m in result.mentions if m.author.handle == "dealz4u")
    assert spam.author.name is None
    assert spam.text == (
        "Discount codes for Northwind?\n\n"
        "NORTHWIND CLEARANCE 90% OFF!!! cheap-gear-outlet.example/nw use code FREE90"
    )
    # The first poll starts a day before the backfill window (after: counts whole days).
    assert queries(server) == [
        ("northwind order:latest after:2025-03-11", "1"),
        ("northwind order:latest after:2025-03-11", "2"),
    ]
    assert "Api-Key" not in server.seen(SEARCH)[0].headers

    forum.pages = {}
    later = await source.poll(http, result.cursor)
    assert list(later.mentions) == []
    assert queries(server)[-1] == ("northwind order:latest after:2025-03-13", "1")


async def test_a_private_forum_needs_the_api_key(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    forum.api_key = "k-123"
    with pytest.raises(SourceError, match=r"HTTP 403 on /search\.json: You are not permitted"):
        await make_source("discourse").poll(http, None)
    source = make_source("discourse", env={"DISCOURSE_API_KEY": "k-123"}, api_username="triage")
    assert len((await source.poll(http, None)).mentions) == 8
    assert server.seen(SEARCH)[-1].headers["Api-Key"] == "k-123"
    assert server.seen(SEARCH)[-1].headers["Api-Username"] == "triage"
    with pytest.raises(MissingCredentials) as caught:
        make_source("discourse", api_key_env="FORUM_KEY")
    assert caught.value.variables == ["FORUM_KEY"]
    named = make_source("discourse", env={"FORUM_KEY": "k-123"}, api_key_env="FORUM_KEY")
    await named.poll(http, None)
    assert server.seen(SEARCH)[-1].headers["Api-Username"] == "system"


async def test_a_login_page_instead_of_json_says_what_to_do(
    server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page = Reply(b"<!DOCTYPE html><html><title>Log in</title></html>", 200)
    page.headers["content-type"] = "text/html; charset=utf-8"
    server.add(SEARCH, page)
    with pytest.raises(SourceError, match=r"web page, not JSON .*api_key_env"):
        await make_source("discourse").poll(http, None)


@pytest.mark.parametrize(
    ("limit", "wait"),
    [
        (({"retry-after": "10"}, {"extras": {"wait_seconds": 99}}), 10.0),
        (({"retry-after": "2.5"}, {}), 2.5),
        (({}, {"extras": {"wait_seconds": 7, "time_left": "7 seconds"}}), 7.0),
        (({}, {}), None),
    ],
)
async def test_rate_limited_search_waits_as_told(
    forum: FakeForum,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    limit: tuple[dict[str, str], dict[str, Any]],
    wait: float | None,
) -> None:
    headers, body = limit
    limited = {
        "errors": ["You\u2019ve performed this action too many times."],
        "error_type": "rate_limit",
    }
    forum.pages = {1: json_reply(limited | body, 429, headers)}
    with pytest.raises(SourceError, match=r"rate limited on /search\.json") as caught:
        await make_source("discourse").poll(http, None)
    assert caught.value.retry_after == wait


async def test_a_walk_cut_short_by_a_429_goes_on_where_it_stopped(
    forum: FakeForum,
    server: FakeServer,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    clock: Clock,
) -> None:
    page2 = forum.pages[2]
    forum.pages[2] = json_reply({"errors": ["slow down"]}, 429, {"retry-after": "30"})
    source = make_source("discourse")
    first = await source.poll(http, None)
    assert len(first.mentions) == 5
    assert first.retry_after == 30.0
    assert first.pause_reason == "search stopped at page 2: rate limited on /search.json"

    clock.now = POLL1 + timedelta(minutes=5)
    forum.pages = {2: page2}  # meanwhile, page 1 would show newer posts
    second = await source.poll(http, first.cursor)
    assert [m.id for m in second.mentions] == [
        "discourse:91781",
        "discourse:91766",
        "discourse:91752",
    ]
    assert second.retry_after is None
    assert queries(server)[-1] == ("northwind order:latest after:2025-03-11", "2")

    third = await source.poll(http, second.cursor)  # a fresh walk from the newest post
    assert list(third.mentions) == []
    assert queries(server)[-1] == ("northwind order:latest after:2025-03-13", "1")


async def test_deleted_hidden_and_empty_posts_are_not_mentions(
    forum: FakeForum, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    at = "2025-03-14T15:00:00.000Z"
    posts = [
        hit(1, at, "(post deleted by author)"),
        hit(2, at, "(post withdrawn by author, will be automatically deleted in 24 hours)"),
        hit(3, at, ""),
        hit(4, at, "Northwind?", deleted_at="2025-03-14T15:10:00.000Z"),
        hit(5, at, "Northwind?", user_deleted=True),
        hit(6, at, "Northwind?", hidden=True),
        hit(None, at),
        hit("8", at),
        hit(True, at),
        hit(10, at, "Still here, Northwind", username=None),
    ]
    forum.pages = {1: json_reply(search_body([*posts, "junk"], [TOPIC], more=False))}
    result = await make_source("discourse").poll(http, None)
    (mention,) = result.mentions
    assert mention.id == "discourse:10"
    assert mention.author.handle == "unknown"
    # Gone posts are reported, so a case made from one earlier gets a note.
    assert [(g.id, g.why) for g in result.gone] == [
        ("discourse:1", "deleted by its author"),
        ("discourse:2", "withdrawn by its author"),
        ("discourse:4", "deleted"),
        ("discourse:5", "deleted"),
        ("discourse:6", "hidden by the community's flags"),
    ]


async def test_hostile_text_and_slugs(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    blurb = (
        "<script>alert(1)</script>Ping &lt;!channel&gt; &lt;@U123&gt; and "
        '<a href="javascript:alert(1)">click</a> <span class="search-highlight">Northwind</span>'
    )
    topic = {"id": 7, "title": "<img src=x onerror=alert(1)>Help", "slug": "../../x?y=javascript:1"}
    post = hit(11, "2025-03-14T15:00:00.000Z", blurb, name="<@U999>")
    headline = '<span class="search-highlight">Northwind</span> &amp; co'
    no_topic = hit(
        12, "2025-03-14T15:01:00.000Z", topic_id=8, post_number=3, topic_title_headline=headline
    )
    no_numbers = hit(13, "2025-03-14T15:02:00.000Z", topic_id="8", post_number=None)
    forum.pages = {1: json_reply(search_body([post, no_topic, no_numbers], [topic], more=False))}
    result = await make_source("discourse").poll(http, None)
    by_id = {m.id: m for m in result.mentions}
    hostile = by_id["discourse:11"]
    assert hostile.url == f"{server.url}/t/..%2F..%2Fx%3Fy%3Djavascript%3A1/7/2"
    # The title is plain text as typed (each surface escapes it); the blurb is HTML.
    assert hostile.text == (
        "<img src=x onerror=alert(1)>Help\n\nPing <!channel> <@U123> and click Northwind"
    )
    assert hostile.author.name == "<@U999>"
    assert by_id["discourse:12"].url == f"{server.url}/t/8/3"
    assert by_id["discourse:12"].text == "Northwind & co\n\nNorthwind help"
    assert by_id["discourse:13"].url == f"{server.url}/p/13"
    assert all(m.url.startswith(server.url + "/") for m in result.mentions)


async def test_bad_dates_out_of_order_posts_and_the_watermark(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page = [
        hit(21, "2025-03-14T10:00:00.000Z"),
        hit(22, "2025-03-14T15:30:00.000Z"),  # newer than the one before it
        hit(23, "yesterday-ish"),
        hit(24, "2025-02-30T10:00:00Z"),
        hit(25, None),
        hit(26, "2999-01-01T00:00:00Z"),
    ]
    forum.pages = {1: json_reply(search_body(page, [TOPIC], more=False))}
    source = make_source("discourse")
    result = await source.poll(http, None)
    by_id = {m.id: m for m in result.mentions}
    assert len(by_id) == 6
    for post_id in (23, 24, 25, 26):
        assert by_id[f"discourse:{post_id}"].created_at == POLL1  # the fetch time

    # Later: an old post ends the walk, page 2 is not asked for although there is more.
    page = [
        hit(31, "2025-03-14T15:59:00.000Z"),
        hit(21, "2025-03-14T10:00:00.000Z"),
        hit(32, "2025-03-14T15:58:00.000Z"),
        hit(23, "yesterday-ish"),
    ]
    forum.pages = {1: json_reply(search_body(page, [TOPIC], more=True))}
    later = await source.poll(http, result.cursor)
    assert sorted(m.id for m in later.mentions) == ["discourse:31", "discourse:32"]
    assert [p for _, p in queries(server)] == ["1", "1"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(b'{"posts": [', 200, {"content-type": "application/json"}), "malformed JSON"),
        (json_reply(["posts"]), "not an object"),
        (json_reply({"posts": {"id": 1}}), "posts is not a list"),
        (
            json_reply(search_body([], [], False) | {"grouped_search_result": {"error": "bad"}}),
            "search refused: bad",
        ),
        (Reply(b"<html>oops</html>", 502, {"content-type": "text/html"}), "HTTP 502"),
    ],
)
async def test_broken_answers_fail_the_poll(
    forum: FakeForum, http: httpx.AsyncClient, make_source: MakeSource, reply: Reply, expected: str
) -> None:
    forum.pages = {1: reply}
    with pytest.raises(SourceError, match=expected):
        await make_source("discourse").poll(http, None)


async def test_latest_posts_matching_the_brand_walk_back_to_the_last_one_seen(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    forum.posts = {
        None: json_reply(
            {
                "latest_posts": [
                    latest_post(110, 5, "<p>My <b>Northwind</b> tent leaks</p>"),
                    latest_post(109, 6, "<p>Best stove for winter?</p>"),
                    latest_post(108, 7, "<p>@northwind where is my order?</p>", post_type=4),
                    latest_post(107, 8, "<p>northwinds are cold</p>"),
                    latest_post(106, 9, "", post_type=3),
                ]
            }
        ),
        106: json_reply(
            {
                "latest_posts": [
                    latest_post(105, 10, "<p>#northwind refund?</p>"),
                    latest_post(104, 11, "<p>(post deleted by author)</p>"),
                    latest_post(103, 12, "<p>Northwind ok</p>", deleted_at="2025-03-14"),
                    latest_post(102, 13, "<p>Gear swap</p>", topic_title="Northwind sale"),
                ]
            }
        ),
        102: json_reply({"latest_posts": []}),
    }
    source = make_source("discourse", search=False, latest_posts="matching")
    result = await source.poll(http, None)
    assert [m.id for m in result.mentions] == ["discourse:110", "discourse:105", "discourse:102"]
    assert [g.id for g in result.gone] == ["discourse:104", "discourse:103"]
    tent = result.mentions[0]
    assert tent.text == "Gear\n\nMy Northwind tent leaks"
    assert tent.url == f"{server.url}/t/t-110/160/1"
    assert [r.query.get("before") for r in server.seen(POSTS)] == [None, "106", "102"]
    assert server.seen(SEARCH) == []

    forum.posts[None] = json_reply(
        {
            "latest_posts": [
                latest_post(112, 1, "<p>Northwind again</p>"),
                latest_post(111, 2, "<p>Northwind once more</p>"),
                latest_post(110, 5, "<p>My <b>Northwind</b> tent leaks</p>"),
            ]
        }
    )
    later = await source.poll(http, result.cursor)
    assert [m.id for m in later.mentions] == ["discourse:112", "discourse:111"]
    assert server.seen(POSTS)[-1].query.get("before") is None  # one page: it reached post 110


async def test_both_streams_and_one_failing_keeps_the_others_posts(
    forum: FakeForum, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    shared = latest_post(91846, 30, "<p>Same thing happened to mine. Northwind…</p>")
    forum.posts = {None: json_reply({"latest_posts": [latest_post(91850, 1, "<p>Hi</p>"), shared]})}
    source = make_source("discourse", latest_posts="all")
    result = await source.poll(http, None)
    ids = [m.id for m in result.mentions]
    assert len(ids) == len(set(ids)) == 9  # 8 search hits and one post only the list has
    assert "discourse:91850" in ids
    both = next(m for m in result.mentions if m.id == "discourse:91846")
    assert both.text == "Gear\n\nSame thing happened to mine. Northwind…"  # the whole post

    forum.pages = {1: json_reply({"errors": ["Internal error"]}, 500)}
    forum.posts[None] = json_reply({"latest_posts": [latest_post(91851, 0, "<p>Hello</p>")]})
    partial = await source.poll(http, result.cursor)
    assert [m.id for m in partial.mentions] == ["discourse:91851"]
    assert partial.errors == ["search: HTTP 500 on /search.json"]
    assert partial.retry_after is None


def test_options_are_checked(forum: FakeForum, make_source: MakeSource) -> None:
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "base_url": ({"base_url": None}, "the forum's address is required"),
        "search": ({"search": False}, "nothing to poll"),
        "latest_posts": ({"latest_posts": "yes"}, "latest_posts: Input should be 'off'"),
        "serach": ({"serach": True}, "did you mean 'search'"),
        "api_username": ({"api_username": 5}, "must be text"),
    }
    for key, (options, message) in cases.items():
        with pytest.raises(ConfigError) as caught:
            make_source("discourse", **options)
        assert any(f"(discourse).{key}" in p and message in p for p in caught.value.problems), (
            caught.value.problems
        )


def test_sources_report_a_named_key_that_is_not_set(tmp_path: Path) -> None:
    head = EXAMPLE.read_text(encoding="utf-8").split("[[sources]]")[0]
    block = (
        '[[sources]]\nname = "forum"\ntype = "discourse"\n'
        'base_url = "https://community.example"\napi_key_env = "FORUM_API_KEY"\n'
    )
    config = tmp_path / "triagebot.toml"
    config.write_text(head + block, encoding="utf-8")
    (spec,) = build_specs(load_settings(config, {}))
    assert spec.missing == ("FORUM_API_KEY",)
    (spec,) = build_specs(load_settings(config, {"FORUM_API_KEY": "k"}))
    assert spec.source is not None


async def test_an_interrupted_walk_whose_page_fails_starts_afresh(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    page2 = forum.pages[2]
    forum.pages[2] = json_reply({"errors": ["slow down"]}, 429, {"retry-after": "30"})
    source = make_source("discourse")
    first = await source.poll(http, None)
    assert json.loads(first.cursor or "{}")["search"]["resume"]["at"] == 2

    forum.pages[2] = json_reply({"errors": ["Internal Server Error"]}, 500)
    second = await source.poll(http, first.cursor)
    assert list(second.mentions) == []
    assert [p for _, p in queries(server)[-2:]] == ["2", "1"]
    assert "resume" not in json.loads(second.cursor or "{}")["search"]

    forum.pages[2] = json_reply({"errors": ["slow down"]}, 429, {"retry-after": "30"})
    third = await source.poll(http, None)
    with pytest.raises(SourceError, match="rate limited") as caught:  # still throttled
        await source.poll(http, third.cursor)
    assert caught.value.retry_after == 30.0  # the place is kept for after the pause
    forum.pages[2] = page2
    fourth = await source.poll(http, third.cursor)
    assert len(fourth.mentions) == 3
    assert [p for _, p in queries(server)[-3:]] == ["2", "2", "2"]


@pytest.mark.parametrize("kind", ["discourse", "googleplay"])
def test_the_example_block_is_valid_once_uncommented(tmp_path: Path, kind: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    blocks = text.split("# [[sources]]\n")
    (block,) = [b for b in blocks[1:] if f'# type = "{kind}"' in b.split("\n\n")[0]]
    lines = [line.removeprefix("# ") for line in block.split("\n\n")[0].splitlines()]
    config = tmp_path / "triagebot.toml"
    config.write_text(
        text.split("[[sources]]")[0] + "[[sources]]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    (spec,) = build_specs(load_settings(config, {}))
    assert spec.config.type == kind
    assert spec.source is not None or spec.missing == ("GOOGLE_PLAY_SERVICE_ACCOUNT_JSON",)


async def test_through_the_poller_posts_become_cases_and_a_deleted_one_gets_a_note(
    forum: FakeForum,
    http: httpx.AsyncClient,
    make_source: MakeSource,
    settings: Settings,
    clock: Clock,
) -> None:
    runtime = Runtime.build(settings, clock=clock)
    try:
        source = make_source("discourse", name="trailtalk")
        spec = SourceSpec(source.config, source)
        polls = Poller(
            [spec], runtime.store, runtime.pipeline.ingest, http, clock=clock,
            note_gone=runtime.pipeline.note_gone,
        )  # fmt: skip
        first = await polls.run("trailtalk")
        assert first.error is None
        cases = {c.mention.id: c for c in runtime.store.list_cases()}
        assert len(cases) == 8
        shipping = cases["trailtalk:91807"]
        assert shipping.mention.url.endswith("/t/northwind-order-stuck-on-label-created/4829/1")

        clock.now += timedelta(minutes=10)
        page = fixture("search_page1.json")
        withdrawn = "(post withdrawn by author, will be automatically deleted in 24 hours)"
        for post in page["posts"]:
            if post["id"] == 91807:
                post["blurb"] = withdrawn
        page["grouped_search_result"]["more_full_page_results"] = None
        forum.pages = {1: json_reply(page)}
        second = await polls.run("trailtalk")
        assert second.error is None
        assert second.result.new == []
        notes = [e for e in runtime.store.events(shipping.id) if e.action == "source_deleted"]
        assert len(notes) == 1
        assert "withdrawn by its author" in (notes[0].note or "")
    finally:
        runtime.close()


async def test_full_text_replaces_excerpts_with_whole_posts(
    forum: FakeForum, server: FakeServer, http: httpx.AsyncClient, make_source: MakeSource
) -> None:
    at = "2025-03-14T15:00:00.000Z"
    hits = [hit(n, at, f"Northwind excerpt {n}...", post_number=n) for n in (1, 2, 3, 4)]
    forum.pages = {1: json_reply(search_body(hits, [TOPIC], more=False))}
    whole = "<p>Northwind: the <b>whole</b> post &amp; more.</p><script>x()</script>"
    server.add("/posts/1.json", json_reply({"id": 1, "cooked": whole, "updated_at": at}))
    server.add(
        "/posts/2.json",
        json_reply({"errors": ["The requested URL or resource could not be found."]}, 404),
    )
    server.add("/posts/3.json", json_reply({"errors": ["slow down"]}, 429, {"retry-after": "12"}))
    server.add("/posts/4.json", json_reply({"id": 4, "cooked": "<p>never asked</p>"}))
    result = await make_source("discourse", full_text=True).poll(http, None)
    texts = {m.id: m.text for m in result.mentions}
    assert texts == {
        "discourse:1": "Northwind question\n\nNorthwind: the whole post & more.",
        "discourse:3": "Northwind question\n\nNorthwind excerpt 3...",
        "discourse:4": "Northwind question\n\nNorthwind excerpt 4...",
    }
    assert [(g.id, g.why) for g in result.gone] == [("discourse:2", "deleted")]
    assert result.retry_after == 12.0
    assert result.pause_reason == "excerpts kept: rate limited on /posts/3.json"
    assert result.errors == [result.pause_reason]
    assert server.seen("/posts/4.json") == []

    plain = await make_source("discourse", name="plain").poll(http, None)
    assert len(plain.mentions) == 4
    assert len(server.seen("/posts/1.json")) == 1  # without full_text: the excerpts only
