"""One complaint, one case: cross-posts join the first case; canonical links compare equal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from triagebot.cases.facts import author_key
from triagebot.cases.links import canonical_url, safe_http_url, unwrap_redirect
from triagebot.cases.records import Author, Case, Mention, OutboxKind
from triagebot.config.settings import Settings
from triagebot.ingest.crosspost import similar, text_key
from triagebot.runtime.wiring import Runtime

COMPLAINT = "Northwind charged my card twice for the same order NW-105317 and support won't answer"


def mention(source: str, n: str, url: str, handle: str, text: str = COMPLAINT) -> Mention:
    return Mention(
        id=f"{source}:{n}",
        source=source,
        kind=source,
        url=url,
        author=Author(handle),
        text=text,
        created_at=datetime(2026, 11, 17, 14, 50, tzinfo=UTC),
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings)
    yield rt
    rt.close()


def test_canonical_urls() -> None:
    same = [
        "https://www.reddit.com/r/CampingGear/comments/1jb3k8x/northwind_charged/",
        "https://old.reddit.com/r/CampingGear/comments/1jb3k8x/?utm_source=share&utm_medium=web",
        "http://m.reddit.com/comments/1jb3k8x",
        "https://redd.it/1jb3k8x",
        "https://www.google.com/url?rct=j&sa=t&url=https://www.reddit.com/r/x/comments/1jb3k8x/t/&ct=ga",
    ]
    assert {canonical_url(u) for u in same} == {"https://reddit.com/comments/1jb3k8x"}
    assert canonical_url("https://mobile.twitter.com/Sam/status/19?s=20&t=abc") == (
        "https://x.com/i/status/19"
    )
    assert (
        canonical_url("https://Blog.Example/a/?b=2&a=1&fbclid=x#top")
        == "https://blog.example/a?a=1&b=2"
    )
    assert unwrap_redirect("https://www.google.com/url?url=javascript:alert(1)").startswith(
        "https://www.google.com/url"
    )
    assert safe_http_url("javascript:alert(1)") is None
    assert safe_http_url("/relative/path") is None
    assert safe_http_url("https://ok.example/\nx") is None


def test_handles_and_texts_compare_loosely() -> None:
    assert author_key("@Hikes_With_Mo") == author_key("hikes-with-mo.bsky.social") == "hikeswithmo"
    assert author_key("lena_outdoors@social.trails.example") == "lenaoutdoors"
    assert author_key("[deleted]") == ""
    x = text_key("@northwind charged my card twice for the same order (NW-105317) https://t.co/x")
    reddit = text_key("Northwind charged my card twice for the same order NW-105317!")
    assert similar(x, reddit)
    assert not similar(text_key("thanks @northwind"), text_key("thanks @northwind"))  # too short


def test_the_same_author_on_two_sources_is_one_case(runtime: Runtime, now: datetime) -> None:
    on_x = mention(
        "x", "1", "https://x.com/trailmix_tess/status/1", "trailmix_tess", "@northwind " + COMPLAINT
    )
    on_reddit = mention(
        "reddit",
        "t3_a",
        "https://www.reddit.com/r/x/comments/a/t/",
        "trailmix-tess",
        COMPLAINT + "!",
    )
    first = runtime.pipeline.ingest([on_x], now)
    second = runtime.pipeline.ingest([on_reddit], now + timedelta(minutes=5))
    assert len(first.new) == 1
    assert second.new == []
    (case,) = second.also_seen
    assert case.id == first.new[0].id
    assert case.also_on == ("https://www.reddit.com/r/x/comments/a/t/",)
    stored = runtime.store.get_case(case.id)
    assert stored.also_on == case.also_on
    assert stored.version == 2
    events = runtime.store.events(case.id)
    assert events[-1].action == "also_seen"
    assert "reddit" in (events[-1].note or "")
    assert runtime.store.pending_outbox() == 2  # the POST and an UPDATE
    again = runtime.pipeline.ingest([on_reddit], now + timedelta(minutes=10))
    assert again.new == []
    assert again.also_seen == []
    assert again.duplicates == 1


def test_a_google_alert_of_a_reddit_thread_is_not_a_second_case(
    runtime: Runtime, now: datetime
) -> None:
    thread = mention(
        "reddit", "t3_1jb3k8x", "https://www.reddit.com/r/Camping/comments/1jb3k8x/slug/", "tess"
    )
    alert = mention(
        "alerts",
        "991",
        "https://old.reddit.com/r/Camping/comments/1jb3k8x/slug/?utm_source=alerts",
        "reddit.com",
        "Northwind charged my card twice - Reddit thread",
    )
    assert len(runtime.pipeline.ingest([thread], now).new) == 1
    result = runtime.pipeline.ingest([alert], now)
    assert result.new == []
    assert result.duplicates == 1


def test_cross_posts_within_one_batch_and_strangers_stay_apart(
    runtime: Runtime, now: datetime
) -> None:
    a = mention("reddit", "1", "https://www.reddit.com/r/a/comments/1/t/", "bex", COMPLAINT)
    b = mention("reddit", "2", "https://www.reddit.com/r/b/comments/2/t/", "bex", COMPLAINT)
    stranger = mention("reddit", "3", "https://www.reddit.com/r/c/comments/3/t/", "someone_else")
    result = runtime.pipeline.ingest([a, b, stranger], now)
    assert len(result.new) == 2
    joined = next(c for c in result.new if c.mention.id == "reddit:1")
    assert joined.also_on == ("https://www.reddit.com/r/b/comments/2/t/",)


def test_also_on_survives_the_store_round_trip(runtime: Runtime, now: datetime) -> None:
    case = runtime.pipeline.ingest([mention("x", "9", "https://x.com/a/status/9", "a")], now).new[0]
    data = case.to_dict()
    assert data["also_on"] == []
    data.pop("also_on")
    assert Case.from_dict(data).also_on == ()
    assert OutboxKind.UPDATE.value == "update"


def test_one_link_for_many_posts_of_one_source_keeps_them_apart(
    runtime: Runtime, now: datetime
) -> None:
    page = "https://apps.apple.com/us/app/id1?see-all=reviews"
    reviews = [
        mention("appstore", str(n), f"{page}#review-{n}", f"reviewer{n}", f"{COMPLAINT} ({n})")
        for n in range(3)
    ]
    assert len(runtime.pipeline.ingest(reviews, now).new) == 3


def test_a_publisher_domain_is_not_an_author(runtime: Runtime, now: datetime) -> None:
    assert author_key("blog.example") == ""
    posts = [
        mention("alerts", str(n), f"https://blog.example/p/{n}", "blog.example", COMPLAINT)
        for n in range(2)
    ]
    assert len(runtime.pipeline.ingest(posts, now).new) == 2
