"""Brand relevance: keywords on word boundaries, handles as whole tokens, exclusions by context."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.fakes.clock import FakeClock
from triagebot.cases.records import Author, Mention
from triagebot.config.settings import BrandConfig, Settings
from triagebot.ingest.brand import BrandFilter, tokens
from triagebot.runtime.wiring import Runtime

BRAND = BrandConfig(
    name="Northwind Outfitters",
    keywords=["northwind", "northwind outfitters"],
    handles=["@northwind", "@northwind_support"],
    exclude=[
        "northwind airlines",
        "northwind traders",
        "Northwind.dbo",
        "Northwind database",
        "@NorthwindAir",
    ],
)


def post(text: str, handle: str = "someone") -> Mention:
    return Mention(
        id="x:1",
        source="x",
        kind="x",
        url="https://x.com/i/status/1",
        author=Author(handle),
        text=text,
        created_at=datetime(2025, 3, 14, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "text",
    [
        "Northwind charged me twice",
        "My Northwind's zipper split",
        "northwind-branded tent leaked",
        "Northwind Outfitters, please reply",
        "#NorthwindOutfitters what a store",
        "#northwind refund?",
        "thanks @northwind for the refund",
        "Northwind Airlines lost my bag, but my Northwind tent survived",
        "Northwindのテントが届かない",
        "NORTHWIND!!! where is my parcel",
        "Great app, but checkout crashed twice",  # a review that does not name the brand
    ],
)
def test_relevant(text: str) -> None:
    assert BrandFilter(BRAND).is_relevant(post(text))


@pytest.mark.parametrize(
    "text",
    [
        "@NorthwindAir lost my bag again",
        "Northwind Airlines lost my bag @NorthwindAir",
        "northwind airlines delayed",
        "SELECT * FROM Northwind.dbo.Orders WHERE ShipCountry = 'USA'",
        "Northwind .dbo schema for shipping tables",
        "Restored the Northwind database on SQL Server to test shipping queries",
        "Using NorthwindTraders as the sample ORM",
        "northwind traders sample app",
        "cc @northwind_fan_club",
        "the #NorthwindAir lounge",
    ],
)
def test_not_relevant(text: str) -> None:
    assert not BrandFilter(BRAND).is_relevant(post(text))


def test_the_brands_own_posts_are_not_relevant() -> None:
    brand = BrandFilter(BRAND)
    assert not brand.is_relevant(post("Northwind here: we are on it", "@Northwind_Support"))
    assert brand.is_relevant(post("Northwind here: we are on it", "northwind_supporter"))


def test_without_exclusions_a_foreign_handle_still_does_not_count() -> None:
    bare = BrandFilter(BrandConfig(name="N", keywords=["northwind"], handles=["@northwind"]))
    assert not bare.is_relevant(post("@NorthwindAir lost my bag"))
    assert bare.is_relevant(post("@NorthwindAir lost my bag, my northwind pack too"))


def test_tokens_keep_marks_as_context() -> None:
    assert tokens("Northwind.dbo @NorthwindAir #Tag it's") == [
        ("northwind", "word"),
        (".", "mark"),
        ("dbo", "word"),
        ("northwindair", "handle"),
        ("tag", "tag"),
        ("it", "word"),
    ]


def test_a_long_hostile_post_is_read_in_one_pass() -> None:
    text = ("northwind " * 50_000) + ("a'" * 50_000) + "@" * 50_000 + "Northwind.dbo " * 10_000
    assert BrandFilter(BRAND).is_relevant(post(text))


def test_the_pipeline_makes_no_case_of_look_alikes(settings: Settings, now: datetime) -> None:
    runtime = Runtime.build(settings, clock=FakeClock(now))
    try:
        texts = [
            "SELECT ShipVia FROM Northwind.dbo.Orders: shipping delayed column is null",
            "Restored the Northwind database; the Shippers table has 3 rows",
            "@NorthwindAir lost my luggage, the Northwind Airlines desk is closed",
            "Northwind shipping is late for order NW-105317",
        ]
        mentions = [replace(post(t), id=f"x:{i}") for i, t in enumerate(texts)]
        result = runtime.pipeline.ingest(mentions, now)
    finally:
        runtime.close()
    assert [c.mention.text for c in result.new] == [texts[3]]
    assert result.ignored == 3
