"""Polls that finish together are written together: one ingest, then their cursors in one write.

Each poll still gets its own result; a crash between the ingest and the cursors repeats the
fetch and stores nothing twice; a group whose joint ingest fails is written poll by poll.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.sources.conftest import Clock
from tests.sources.server import FakeServer, fixture_reply
from tests.sources.test_polling import ATOM, Crash, spec
from triagebot.cases.records import Mention
from triagebot.config.settings import Settings
from triagebot.ingest.pipeline import IngestResult
from triagebot.ingest.polling import Poller, poll_all
from triagebot.runtime.wiring import Runtime
from triagebot.store.base import Store


class CursorCrash:
    """A store that dies when source cursors are written (together or one by one)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def set_cursor(self, source: str, cursor: str | None) -> None:
        if "#" not in source:
            raise Crash(source)
        self.inner.set_cursor(source, cursor)

    def set_cursors(self, cursors: dict[str, str | None]) -> None:
        if any("#" not in source for source in cursors):
            raise Crash(", ".join(cursors))
        self.inner.set_cursors(cursors)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock)
    yield rt
    rt.close()


def grouped(
    runtime: Runtime, server: FakeServer, settings: Settings, clock: Clock, **kw: Any
) -> Poller:
    server.add("/a", fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM), times=5)
    server.add("/b", fixture_reply("google_alerts", "feed_poll1.xml", headers=ATOM), times=5)
    specs = [
        spec(settings, clock, name=name, type="rss", base_url=server.url + f"/{name}")
        for name in ("a", "b")
    ]
    store = kw.pop("store", runtime.store)
    return Poller(
        specs,
        store,
        runtime.pipeline.ingest,
        kw.pop("http"),
        clock=clock,
        ingest_batches=kw.pop("ingest_batches", runtime.pipeline.ingest_batches),
        **kw,
    )


async def test_two_polls_written_together_keep_their_own_results(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    poller = grouped(runtime, server, settings, clock, http=http)
    outcomes = {o.source: o for o in await poll_all(poller, ["a", "b"])}
    assert all(o.error is None and o.fetched == 6 for o in outcomes.values())
    # The same six posts from two sources: one source's become cases, the other's are the
    # same posts (same links) and are not cases twice.
    stored = runtime.store.list_cases()
    assert sum(len(o.result.new) for o in outcomes.values()) == len(stored)
    assert sum(o.result.duplicates for o in outcomes.values()) == 12 - len(stored)
    for o in outcomes.values():
        assert {c.mention.source for c in o.result.new} <= {o.source}
    assert runtime.store.get_cursor("a") is not None
    assert runtime.store.get_cursor("b") is not None


async def test_a_crash_before_the_cursors_repeats_the_fetch_and_stores_nothing_twice(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    crashing = grouped(
        runtime, server, settings, clock, http=http, store=CursorCrash(runtime.store)
    )
    outcomes = await poll_all(crashing, ["a", "b"])
    assert all(o.error is not None and "Crash" in o.error for o in outcomes)
    assert runtime.store.get_cursor("a") is None and runtime.store.get_cursor("b") is None
    before = {c.mention.id for c in runtime.store.list_cases()}
    assert len(before) >= 6  # the mentions were stored before the cursors
    restarted = Poller(
        list(crashing.specs.values()),
        runtime.store,
        runtime.pipeline.ingest,
        http,
        clock=clock,
        ingest_batches=runtime.pipeline.ingest_batches,
    )
    again = await poll_all(restarted, ["a", "b"])
    assert all(o.error is None for o in again)
    # Nothing stored before is stored again. (A copy of a post that was marked spam can still
    # become a case of its own when the two sources are written one after the other: spam
    # cases are not cross-post candidates, which is the pipeline's rule, not the grouping's.)
    assert not {c.mention.id for o in again for c in o.result.new} & before
    ids = [c.mention.id for c in runtime.store.list_cases()]
    assert len(ids) == len(set(ids))
    assert runtime.store.get_cursor("a") is not None
    assert runtime.store.get_cursor("b") is not None


async def test_a_group_whose_joint_ingest_fails_is_written_poll_by_poll(
    server: FakeServer, http: httpx.AsyncClient, runtime: Runtime, settings: Settings, clock: Clock
) -> None:
    def failing(batches: list[tuple[list[Mention], datetime]]) -> list[IngestResult]:
        raise RuntimeError("the joint write failed")

    poller = grouped(runtime, server, settings, clock, http=http, ingest_batches=failing)
    outcomes = await poll_all(poller, ["a", "b"])
    assert all(o.error is None for o in outcomes)
    assert sum(len(o.result.new) for o in outcomes) == len(runtime.store.list_cases()) >= 6
    assert runtime.store.get_cursor("a") is not None
    assert runtime.store.get_cursor("b") is not None
