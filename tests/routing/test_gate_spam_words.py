"""The model alone never marks a post of a few words as spam: it waits in triage instead."""

from __future__ import annotations

import pytest

from triagebot.routing.gate import SPAM_MIN_WORDS, Gate


@pytest.mark.parametrize(
    ("probability", "text", "spam"),
    [
        (0.99, "@northwind refund please", False),  # a customer's whole request
        (0.99, "@northwind slow shipping", False),
        (0.99, "lol", False),
        (0.99, "check out this totally unrelated meme page about cats and dogs", True),
        (0.79, "check out this totally unrelated meme page about cats and dogs", False),
    ],
)
def test_spam_needs_confidence_and_words(probability: float, text: str, spam: bool) -> None:
    assert Gate(spam_at=0.8).may_mark_spam(probability, text) is spam


def test_the_floor_counts_handles_as_words() -> None:
    text = " ".join(["@a"] * SPAM_MIN_WORDS)
    assert Gate(spam_at=0.8).may_mark_spam(0.9, text)
