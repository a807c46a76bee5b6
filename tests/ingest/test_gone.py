"""Posts deleted at the source: never a case, a note once on the open case made from them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.clock import FakeClock as Clock
from tests.fakes.surface import RecordingSurface
from triagebot.cases.records import Author, CaseState, Mention
from triagebot.config.settings import Settings
from triagebot.ingest.sources import GonePost
from triagebot.runtime.wiring import Runtime


def mention(n: int, text: str) -> Mention:
    return Mention(
        id=f"reddit:t3_{n}",
        source="reddit",
        kind="reddit",
        url=f"https://www.reddit.com/comments/{n}",
        author=Author("tess"),
        text=text,
        created_at=datetime(2026, 11, 17, 14, 50, tzinfo=UTC),
    )


@pytest.fixture
def runtime(settings: Settings, now: datetime) -> Iterator[Runtime]:
    rt = Runtime.build(settings, [RecordingSurface("slack")], clock=Clock(now))
    yield rt
    rt.close()


def test_an_empty_post_is_not_a_case(runtime: Runtime, now: datetime) -> None:
    result = runtime.pipeline.ingest([mention(1, "   "), mention(2, "")], now)
    assert result.new == []
    assert result.ignored == 2


def test_only_open_cases_are_noted_and_only_once(runtime: Runtime, now: datetime) -> None:
    new = runtime.pipeline.ingest(
        [mention(1, "northwind charged me twice"), mention(2, "northwind parcel late")], now
    ).new
    open_case, closed = sorted(new, key=lambda c: c.mention.id)
    resolved = replace(closed, state=CaseState.RESOLVED, version=closed.version + 1)
    runtime.store.save_case(resolved, closed.version)
    gone = [GonePost(open_case.mention.id, "deleted"), GonePost(closed.mention.id, "deleted")]
    gone.append(GonePost("reddit:t3_never_stored", "removed by moderators"))
    later = now + timedelta(minutes=5)
    noted = runtime.pipeline.note_gone(gone, later)
    assert [c.id for c in noted] == [open_case.id]
    assert runtime.pipeline.note_gone(gone, later + timedelta(minutes=5)) == []
    events = [e.action for e in runtime.store.events(open_case.id)]
    assert events.count("source_deleted") == 1
    assert "source_deleted" not in [e.action for e in runtime.store.events(closed.id)]
    assert runtime.store.get_case(open_case.id).mention.text == "northwind charged me twice"
    assert runtime.store.get_case(open_case.id).gone_at == later  # "Close: post deleted" offered
