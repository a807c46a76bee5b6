"""Caps on what one mention may hold: text, links, author fields, raw payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from triagebot.cases.caps import (
    LINK_REMOVED,
    MAX_HANDLE,
    MAX_LINKS,
    MAX_NAME,
    MAX_RAW_CHARS,
    MAX_RAW_ITEMS,
    MAX_RAW_STRING,
    MAX_TEXT,
    cap_mention,
    cap_text,
)
from triagebot.cases.records import Author, Mention

AT = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)


def mention(
    text: str, author: Author | None = None, raw: dict[str, object] | None = None
) -> Mention:
    return Mention(
        id="s:1",
        source="s",
        kind="rss",
        url="https://example.com/1",
        author=author or Author("ann"),
        text=text,
        created_at=AT,
        raw=raw or {},
    )


def test_an_ordinary_mention_is_kept_as_it_is() -> None:
    plain = mention("Northwind charged me twice https://example.com/a")
    assert cap_mention(plain) is plain


def test_long_text_is_cut_at_a_word_and_marked() -> None:
    capped = cap_text("word " * 5000)
    assert len(capped) <= MAX_TEXT
    assert capped.endswith("word…")


def test_links_after_the_limit_are_replaced() -> None:
    text = " ".join(f"https://spam.example/{i}" for i in range(200))
    capped = cap_text(text)
    assert capped.count("https://") == MAX_LINKS
    assert capped.count(LINK_REMOVED) == 200 - MAX_LINKS
    assert "https://spam.example/19" in capped
    assert "https://spam.example/20" not in capped


def test_author_fields_are_one_bounded_line() -> None:
    author = Author("h" * 5000, "Ann\u202e\n" + "n" * 5000, followers=True)  # a bool, not a count
    capped = cap_mention(mention("hi", author)).author
    assert len(capped.handle) <= MAX_HANDLE
    assert capped.name is not None
    assert len(capped.name) <= MAX_NAME
    assert "\u202e" not in capped.name
    assert "\n" not in capped.name
    assert capped.followers is None


def test_the_raw_payload_is_bounded() -> None:
    raw: dict[str, object] = {"body": "x" * 100_000, "links": list(range(10_000))}
    node = raw
    for _ in range(50):
        node["child"] = {}
        node = node["child"]  # type: ignore[assignment]
    capped = cap_mention(mention("hi", raw=raw)).raw
    assert len(capped["body"]) <= MAX_RAW_STRING
    assert len(capped["links"]) == MAX_RAW_ITEMS
    assert len(json.dumps(capped)) <= MAX_RAW_CHARS


def test_a_payload_of_many_long_fields_keeps_its_plain_values_cut_short() -> None:
    raw: dict[str, object] = {f"field{i}": "x" * 5000 for i in range(300)}
    raw["nested"] = {"a": ["b"] * 10}
    capped = cap_mention(mention("hi", raw=raw)).raw
    assert len(json.dumps(capped)) <= MAX_RAW_CHARS
    assert "nested" not in capped
    assert capped["field0"].endswith("…")


def test_a_payload_within_bounds_is_kept_as_it_is() -> None:
    raw: dict[str, object] = {"id": "t3_1", "selftext": "short", "tags": ["a", "b"]}
    assert cap_mention(mention("hi", raw=raw)).raw is raw


def test_a_hostile_megabyte_is_capped() -> None:
    hostile = ("https://a.example/" + "x" * 50 + " ") * 20_000 + "<" * 500_000
    capped = cap_mention(mention(hostile, Author("a" * 1_000_000, "b" * 1_000_000)))
    assert len(capped.text) <= MAX_TEXT
    assert capped.text.count("https://") == MAX_LINKS
