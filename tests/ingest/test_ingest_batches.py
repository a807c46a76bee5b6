"""Several polls' batches ingested at once: one result per batch, each batch its own time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.fakes.clock import FakeClock as Clock
from tests.ingest.test_pipeline import mention
from triagebot.config.settings import Settings
from triagebot.runtime.wiring import Runtime


@pytest.fixture
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = Runtime.build(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


def test_each_batch_gets_its_own_counts_and_ingest_time(runtime: Runtime, now: datetime) -> None:
    runtime.pipeline.ingest([mention(1, "northwind my order never came")], now)
    later = now + timedelta(minutes=3)
    first = [
        mention(1, "northwind my order never came"),  # stored before: a duplicate
        mention(2, "northwind the zipper broke on day two"),
        mention(3, "Northwind Airlines lost my bag"),  # an excluded look-alike: ignored
    ]
    second = [
        mention(2, "northwind the zipper broke on day two"),  # in the first batch: a duplicate
        mention(4, "northwind refund for order NW-1234 please"),
        mention(5, "northwind where is my parcel, tracking says nothing"),
    ]
    a, b = runtime.pipeline.ingest_batches([(first, now), (second, later)])
    assert ([c.mention.id for c in a.new], a.duplicates, a.ignored) == (["x:2"], 1, 1)
    assert ([c.mention.id for c in b.new], b.duplicates, b.ignored) == (["x:4", "x:5"], 1, 0)
    assert a.new[0].ingested_at == now
    assert {c.ingested_at for c in b.new} == {later}
    ids = [c.id for c in (*a.new, *b.new)]
    assert len(set(ids)) == 3  # one id reservation for all, no case id twice
    assert len(runtime.store.list_cases()) == 4


def test_no_batches_and_empty_batches(runtime: Runtime, now: datetime) -> None:
    assert runtime.pipeline.ingest_batches([]) == []
    results = runtime.pipeline.ingest_batches([([], now), ([], now)])
    assert [(r.new, r.duplicates, r.ignored) for r in results] == [([], 0, 0)] * 2
