"""One ceiling on post text in the core: whatever a source hands the pipeline is cut before
routing and storage, and the router never reads past it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.triage_helpers import DEPARTMENTS, post
from triagebot.cases.caps import TEXT_CEILING
from triagebot.cases.records import Author, Mention, Priority
from triagebot.config.settings import Settings
from triagebot.ingest.pipeline import Pipeline
from triagebot.routing.router import Router
from triagebot.runtime.deploy import open_configured_store
from triagebot.store.base import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_configured_store(settings.env)
    yield opened
    opened.close()


def test_the_pipeline_cuts_text_from_any_source_before_routing(
    settings: Settings, store: Store, now: datetime
) -> None:
    pipeline = Pipeline(store, settings, Router.load(ROOT / "rules", DEPARTMENTS, Priority.P2))
    huge = Mention(
        id="custom:1",
        source="custom",  # built by a source that applied no cap of its own
        kind="custom",
        url="https://example.org/1",
        author=Author("someone"),
        text="Northwind refund please. " + "!" * 500_000,
        created_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
    )
    result = pipeline.ingest([huge], now)
    assert len(result.new) == 1
    stored = store.get_case(result.new[0].id)
    assert len(stored.mention.text) <= TEXT_CEILING
    assert stored.mention.text.startswith("Northwind refund please.")


def test_the_router_reads_no_further_than_the_ceiling() -> None:
    router = Router.load(ROOT / "rules", DEPARTMENTS, Priority.P2)
    router.route(post("warm up"))
    start = time.perf_counter()
    routing = router.route(post("!" * 2_000_000 + " how much is it? is it available in canada?"))
    assert time.perf_counter() - start < 0.05  # generous: the first 40,000 characters only
    assert "sales.pricing" not in routing.rules  # the question is past the ceiling
