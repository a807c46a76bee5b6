"""The poller over real adapters, a loopback server and a TinyDB store file.

A restart in the middle of a run loses nothing and repeats nothing; a hanging source does not
delay the others; a source without credentials is reported and never polled; failures back
off (the source's own wait when it gave one).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from integrations.sources import ADAPTERS, build_specs
from tests.sources.conftest import Clock
from tests.sources.server import FakeServer, Reply, fixture_reply
from triagebot.cases.records import Mention
from triagebot.config.settings import Settings, SourceConfig, load_settings
from triagebot.errors import ConfigError, MissingCredentials
from triagebot.ingest.pipeline import IngestResult
from triagebot.ingest.polling import Poller, job_id
from triagebot.ingest.source_state import load_state, status_key
from triagebot.ingest.sources import SourceSpec
from triagebot.runtime.scheduler import create_scheduler
from triagebot.runtime.wiring import Runtime
from triagebot.store.base import Store

ALERTS = "/alerts"
ATOM = {"content-type": "application/atom+xml"}


class Crash(Exception):
    """Stands for the process dying between two store writes."""


class CrashingStore:
    """A store whose next ``set_cursor`` of a source cursor dies (the status key is spared)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def set_cursor(self, source: str, cursor: str | None) -> None:
        if "#" not in source:
            raise Crash(source)
        self.inner.set_cursor(source, cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock)
    yield rt
    rt.close()


def spec(
    settings: Settings, clock: Clock, env: dict[str, str] | None = None, **block: Any
) -> SourceSpec:
    block.setdefault("backfill", "2d")
    config = SourceConfig.model_validate(block)
    try:
        return SourceSpec(
            config, ADAPTERS[config.type](config, settings.config.brand, env or {}, clock)
        )
    except MissingCredentials as exc:
        return SourceSpec(config, problem=str(exc), missing=tuple(exc.variables))


def poller(runtime: Runtime, specs: list[SourceSpec], http: httpx.AsyncClient, **kw: Any) -> Poller:
    return Poller(specs, runtime.store, runtime.pipeline.ingest, http, clock=runtime.clock, **kw)


async def test_restart_between_ingest_and_cursor_loses_nothing_and_repeats_nothing(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM), times=2)
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll2.xml", headers=ATOM))
    alerts = spec(settings, clock, name="alerts", type="rss", base_url=server.url + ALERTS)
    crashing = Poller(
        [alerts], CrashingStore(runtime.store), runtime.pipeline.ingest, http, clock=clock
    )
    outcome = await crashing.run("alerts")
    assert outcome.error is not None
    assert "Crash" in outcome.error
    assert runtime.store.get_cursor("alerts") is None  # the cursor never moved
    stored = {c.mention.id for c in runtime.store.list_cases()}
    assert len(stored) == 6  # ... but the mentions were stored before it

    restarted = poller(runtime, [alerts], http)  # a new process: same store, no memory
    again = await restarted.run("alerts")
    assert again.error is None
    assert again.fetched == 6
    assert again.result.new == []
    assert again.result.duplicates == 6
    later = await restarted.run("alerts")
    assert len(later.result.new) == 4
    ids = [c.mention.id for c in runtime.store.list_cases()]
    assert len(ids) == len(set(ids)) == 10


async def test_a_crash_inside_ingest_stores_nothing_and_the_next_run_stores_all(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM))
    alerts = spec(settings, clock, name="alerts", type="rss", base_url=server.url + ALERTS)

    def dying_ingest(mentions: list[Mention], now: Any) -> IngestResult:
        raise Crash("power cut")

    first = Poller([alerts], runtime.store, dying_ingest, http, clock=clock)
    assert (await first.run("alerts")).error is not None
    assert runtime.store.list_cases() == []
    assert runtime.store.get_cursor("alerts") is None
    second = await poller(runtime, [alerts], http).run("alerts")
    assert len(second.result.new) == 6


async def test_first_run_imports_only_the_backfill_window(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM))
    alerts = spec(
        settings, clock, name="alerts", type="rss", base_url=server.url + ALERTS, backfill="4h"
    )
    outcome = await poller(runtime, [alerts], http).run("alerts")
    assert outcome.fetched == 6
    assert outcome.too_old == 4
    assert len(outcome.result.new) == 2


async def test_a_hanging_source_does_not_delay_the_others(
    server: FakeServer, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add("/slow", Reply(b"<feed/>", 200, ATOM, delay=8.0))
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM))
    slow = spec(
        settings, clock, name="slow", type="rss", base_url=server.url + "/slow", interval="10s"
    )
    fast = spec(
        settings, clock, name="fast", type="rss", base_url=server.url + ALERTS, interval="10s"
    )
    finished: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:
        polls = poller(
            runtime,
            [slow, fast],
            http,
            poll_timeout=3.0,  # the fast feed's six posts are routed by the model meanwhile
            on_outcome=lambda o: finished.append(o.source),
        )
        scheduler = create_scheduler()
        polls.schedule(scheduler)
        scheduler.start()
        try:
            for _ in range(200):
                if len(finished) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            scheduler.shutdown(wait=False)
    assert finished == ["fast", "slow"]
    assert polls.state["fast"].last_success is not None
    assert polls.state["slow"].last_error == "no answer within 3 s"
    assert len(runtime.store.list_cases()) == 6


async def test_a_source_without_credentials_is_reported_not_polled(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    x = spec(settings, clock, name="x", type="x", base_url=server.url)
    assert x.missing == ("X_BEARER_TOKEN",)
    polls = poller(runtime, [x], http)
    scheduler = AsyncIOScheduler(timezone="UTC")
    polls.schedule(scheduler)
    assert scheduler.get_job(job_id("x")) is None
    outcome = await polls.run("x")
    assert outcome.skipped
    assert "X_BEARER_TOKEN" in outcome.skipped
    assert server.requests == []
    health = polls.health()[0]
    assert health["status"] == "off"
    assert health["missing"] == ["X_BEARER_TOKEN"]


async def test_failures_back_off_honouring_the_sources_wait(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add("/api/v1/search_by_date", Reply(b"{}", 429, {"retry-after": "120"}), times=1)
    server.add("/api/v1/search_by_date", Reply(b"oops", 502), times=2)
    hn = spec(settings, clock, name="hn", type="hackernews", base_url=server.url, interval="1m")
    polls = poller(runtime, [hn], http)
    await polls.run("hn")
    state = polls.state["hn"]
    assert state.backoff_until == clock.now + timedelta(seconds=120)
    skipped = await polls.run("hn")
    assert skipped.skipped
    assert len(server.requests) == 1
    delays = []
    for _ in range(2):
        clock.now = state.backoff_until
        await polls.run("hn")
        delays.append((state.backoff_until - clock.now).total_seconds())
    assert 48 <= delays[0] <= 144
    assert 96 <= delays[1] <= 288
    assert state.consecutive_failures == 3
    assert "HTTP 502" in (state.last_error or "")
    saved = load_state(runtime.store.get_cursor(status_key("hn")))
    assert saved is not None
    assert saved.consecutive_failures == 3


async def test_lag_and_status_are_recorded(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM))
    alerts = spec(settings, clock, name="alerts", type="rss", base_url=server.url + ALERTS)
    polls = poller(runtime, [alerts], http)
    await polls.run("alerts")
    state = polls.state["alerts"]
    assert state.status == "ok"
    assert state.last_new == 6
    assert state.typical_lag is not None
    assert state.typical_lag > 3600
    saved = json.loads(runtime.store.get_cursor(status_key("alerts")) or "{}")
    assert saved["typical_lag_seconds"] == state.typical_lag


def test_build_specs_reports_missing_credentials(settings: Settings) -> None:
    specs = {s.name: s for s in build_specs(settings)}
    assert specs["x"].problem is not None
    assert "X_BEARER_TOKEN" in specs["x"].problem
    assert specs["reddit"].source is not None


async def test_the_brands_own_posts_are_ignored(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    rss = {"content-type": "application/rss+xml"}
    server.add("/posts.rss", fixture_reply("forum_rss", "posts_poll2.rss", headers=rss))
    forum = spec(settings, clock, name="forum", type="rss", base_url=server.url + "/posts.rss")
    outcome = await poller(runtime, [forum], http).run("forum")
    assert outcome.result.ignored == 1  # @northwind_support, one of the brand's handles
    assert all(c.mention.author.handle != "northwind_support" for c in outcome.result.new)


def test_a_bad_adapter_option_names_the_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "triagebot.toml"
    example = Path(__file__).resolve().parents[2] / "triagebot.example.toml"
    head = example.read_text(encoding="utf-8").split("[[sources]]")[0]
    config.write_text(head + '[[sources]]\nname = "se"\ntype = "stackexchange"\n', encoding="utf-8")
    settings = load_settings(config, {})
    with pytest.raises(ConfigError) as caught:
        build_specs(settings)
    assert caught.value.problems == [
        f"{config}: sources[0] (se).site: the Stack Exchange site is required (e.g. outdoors)"
    ]


async def test_a_broken_feed_keeps_the_cursor_stores_nothing_and_shows_the_error(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add(ALERTS, fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM), times=1)
    server.add(ALERTS, fixture_reply("hard", "alerts_truncated.xml", headers=ATOM), times=1)
    alerts = spec(settings, clock, name="alerts", type="rss", base_url=server.url + ALERTS)
    polls = poller(runtime, [alerts], http)
    await polls.run("alerts")
    cursor = runtime.store.get_cursor("alerts")
    stored = len(runtime.store.list_cases())
    outcome = await polls.run("alerts")
    assert outcome.error is not None
    assert "not a well-formed feed" in outcome.error
    assert runtime.store.get_cursor("alerts") == cursor
    assert len(runtime.store.list_cases()) == stored
    saved = load_state(runtime.store.get_cursor(status_key("alerts")))
    assert saved is not None
    assert saved.last_error == outcome.error


def _reddit_listing(selftext: str, author: str, created: float) -> Reply:
    post = {
        "name": "t3_late1",
        "author": author,
        "title": "Northwind charged my card twice",
        "selftext": selftext,
        "permalink": "/r/x/comments/late1/t/",
        "created_utc": created,
    }
    body = {"kind": "Listing", "data": {"after": None, "children": [{"data": post}]}}
    return Reply(json.dumps(body).encode(), 200, {"content-type": "application/json"})


async def test_a_post_deleted_later_is_noted_once_on_its_case_and_never_a_new_case(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    created = clock.now.timestamp() - 60
    server.add("/search.json", _reddit_listing("order NW-1, please help", "tess", created), times=1)
    server.add("/search.json", _reddit_listing("[deleted]", "[deleted]", created))
    server.add("/r/gone/search.json", _reddit_listing("[removed]", "[deleted]", created))
    reddit = spec(settings, clock, name="reddit", type="reddit", base_url=server.url)
    never = spec(settings, clock, name="gone", type="reddit", base_url=server.url, subreddit="gone")
    polls = poller(runtime, [reddit, never], http, note_gone=runtime.pipeline.note_gone)
    first = await polls.run("reddit")
    (case,) = first.result.new
    for _ in range(2):
        clock.now += timedelta(minutes=2)
        outcome = await polls.run("reddit")
        assert outcome.result.new == []
    assert outcome.gone_noted == 0  # noted once, on the first poll that saw it deleted
    events = [e for e in runtime.store.events(case.id) if e.action == "source_deleted"]
    assert len(events) == 1
    assert events[0].note is not None
    assert "deleted" in events[0].note
    assert runtime.store.get_case(case.id).mention.text.endswith("order NW-1, please help")
    replies = runtime.store.lease_outbox(clock.now, 50, timedelta(minutes=1))
    assert any(o.case_id == case.id and o.text == events[0].note for o in replies)
    gone = await polls.run("gone")
    assert gone.fetched == 0
    assert gone.result.new == []
    assert len(runtime.store.list_cases()) == 1


async def test_one_failing_endpoint_does_not_throw_away_the_others_posts(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    server.add("/api/v2/search", Reply(b'{"error": "The access token is invalid"}', 401))
    server.add(
        "/api/v1/timelines/tag/northwind", fixture_reply("mastodon", "tag_northwind_page1.json")
    )
    server.add("/api/v1/timelines/tag/northwind", Reply(b"[]", 200), max_id="114161151872869063")
    masto = spec(
        settings,
        clock,
        {"MASTODON_ACCESS_TOKEN": "expired"},
        name="masto",
        type="mastodon",
        base_url=server.url,
        hashtags=["northwind"],
        page_size=6,
    )
    polls = poller(runtime, [masto], http)
    outcome = await polls.run("masto")
    assert outcome.error is None
    assert outcome.fetched == 5
    assert outcome.result.new
    assert outcome.partial is not None
    assert "HTTP 401 on /api/v2/search" in outcome.partial
    saved = load_state(runtime.store.get_cursor(status_key("masto")))
    assert saved is not None
    assert saved.status == "partial"
    assert saved.last_error == outcome.partial
    assert json.loads(runtime.store.get_cursor("masto") or "{}")["tag:northwind"]
