"""The evaluation set and the learning stream are kept apart from what the router learns from.

The learning streams (``tests/data/routing_stream/``: each the posts of one industry that
neither the corpus nor the evaluation set covers, which ``bench/bench_learning.py`` feeds to a
deployment and corrects) are held to the same test, against the evaluation set and each other
too.

A text counts as inside when its normalised form (case, accents, punctuation, spacing folded)
equals one of a training text, or when their character 5-gram shingles overlap by Jaccard
0.6 or more, so a copy with a changed handle, number or emoji is caught too. Training texts
are the shipped corpus, the rules' examples and every term of the rule files, the older
labelled tuning posts, and the recorded source answers used as fixtures.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.routing_eval import load_eval

ROOT = Path(__file__).resolve().parents[2]
STREAM = ROOT / "tests" / "data" / "routing_stream"
NEAR = 0.6
SHINGLE = 5


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).casefold()
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", folded))


def shingles(text: str) -> set[str]:
    norm = normalise(text)
    return {norm[i : i + SHINGLE] for i in range(max(1, len(norm) - SHINGLE + 1))}


def _jsonl_texts(path: Path) -> Iterator[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield str(json.loads(line)["text"])


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def training_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((ROOT / "triagebot" / "routing" / "data" / "corpus").glob("*.jsonl")):
        texts.extend(_jsonl_texts(path))
    texts.extend(_jsonl_texts(ROOT / "rules" / "examples.jsonl"))
    texts.extend(_jsonl_texts(ROOT / "tests" / "data" / "triage_posts.jsonl"))
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        texts.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.json")):
        try:
            texts.extend(_strings(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, UnicodeDecodeError):
            continue
    return [t for t in texts if len(normalise(t)) >= 20]


def overlapping(evaluation: list[str], training: list[str]) -> list[tuple[str, str, float]]:
    """Pairs (evaluation text, training text, Jaccard) at or above ``NEAR`` or equal."""
    exact = {normalise(t): t for t in training}
    index: dict[str, list[int]] = defaultdict(list)
    train_shingles = [shingles(t) for t in training]
    for number, grams in enumerate(train_shingles):
        for gram in grams:
            index[gram].append(number)
    found: list[tuple[str, str, float]] = []
    for text in evaluation:
        if normalise(text) in exact:
            found.append((text, exact[normalise(text)], 1.0))
            continue
        grams = shingles(text)
        shared: dict[int, int] = defaultdict(int)
        for gram in grams:
            for number in index.get(gram, ()):
                shared[number] += 1
        for number, common in shared.items():
            union = len(grams) + len(train_shingles[number]) - common
            if union and common / union >= NEAR:
                found.append((text, training[number], common / union))
                break
    return found


def test_the_detector_catches_copies_and_near_copies() -> None:
    training = ["@Skyline my bag never showed up at JFK, third time this year!! #fail"]
    evaluation = [
        "@skyline my bag never showed up at jfk third time this year #fail",
        "@OtherAir my bag never showed up at LAX, third time this year!! #fail 😡",
        "Does the family plan include roaming in Portugal?",
    ]
    hits = [text for text, _, _ in overlapping(evaluation, training)]
    assert hits == evaluation[:2]


def test_no_evaluation_post_is_in_any_training_text() -> None:
    evaluation = [p["text"] for p in load_eval()]
    leaks = overlapping(evaluation, training_texts())
    assert leaks == [], leaks[:5]


def test_the_evaluation_set_is_big_varied_and_apart() -> None:
    posts = load_eval()
    industries = {p["industry"] for p in posts}
    corpus = ROOT / "triagebot" / "routing" / "data" / "corpus"
    trained_on = {p.stem for p in corpus.glob("*.jsonl")}
    assert len(posts) >= 600
    assert len(industries) >= 6
    assert industries.isdisjoint(trained_on)
    assert sum(p.get("lang", "en") != "en" for p in posts) >= 0.1 * len(posts)
    assert {p["label"] for p in posts} == {
        "customer_service",
        "product",
        "billing",
        "sales",
        "shipping",
        "hr",
        "pr",
        "none",
    }


def _streams() -> dict[str, list[dict[str, object]]]:
    """Each learning stream's posts, by file name."""
    return {
        path.stem: [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        for path in sorted(STREAM.glob("*.jsonl"))
    }


def _stream() -> list[dict[str, object]]:
    return [post for posts in _streams().values() for post in posts]


def test_no_learning_stream_post_is_in_any_training_text_or_the_evaluation_set() -> None:
    stream = [str(p["text"]) for p in _stream()]
    assert overlapping(stream, training_texts()) == []
    assert overlapping(stream, [p["text"] for p in load_eval()]) == []


def test_no_two_learning_streams_share_a_post() -> None:
    streams = list(_streams().values())
    for i, posts in enumerate(streams):
        others = [str(p["text"]) for later in streams[i + 1 :] for p in later]
        assert overlapping([str(p["text"]) for p in posts], others) == []


@pytest.mark.parametrize("name", sorted(p.stem for p in STREAM.glob("*.jsonl")))
def test_each_learning_stream_is_one_unseen_industry_big_enough_to_learn_from(name: str) -> None:
    posts = _streams()[name]
    industries = {p["industry"] for p in posts}
    corpus = ROOT / "triagebot" / "routing" / "data" / "corpus"
    assert industries == {name}
    assert industries.isdisjoint({p.stem for p in corpus.glob("*.jsonl")})
    assert industries.isdisjoint({p["industry"] for p in load_eval()})
    assert len(posts) >= 500
    assert len({normalise(str(p["text"])) for p in posts}) == len(posts)
    assert sum(p.get("lang", "en") != "en" for p in posts) >= 0.1 * len(posts)
    assert {p["label"] for p in posts} == {
        "customer_service",
        "product",
        "billing",
        "sales",
        "shipping",
        "hr",
        "pr",
        "none",
    }
