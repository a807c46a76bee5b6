"""Packed active cases cost their size in memory."""

from __future__ import annotations

import tracemalloc

from tests.store.builders import make_case
from triagebot.store._index import ActiveIndex
from triagebot.store._packed import pack


def test_a_packed_document_holds_no_more_memory_than_its_bytes() -> None:
    """orjson's output keeps the buffer it grew (16 kB for a document of 2 kB); a packed
    document lives as long as its case is active, so it is a copy of exactly its size."""
    docs = [
        make_case(str(n)).to_dict() | {"events": [], "refs": {}, "note": "x" * 1500}
        for n in range(200)
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        packed = [pack(str(n), doc) for n, doc in enumerate(docs)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    raw = sum(len(p.raw) for p in packed)
    assert raw > 200 * 1500
    assert grown < raw + len(docs) * 2_000  # each head under 2 kB


def test_the_cross_post_maps_follow_cases_sharing_a_key() -> None:
    """A key held by one case keeps its id alone, by several a set; both shrink back."""
    cases = {
        str(n): pack(
            str(n),
            make_case(str(n), mention_id=f"x:{n}").to_dict() | {"events": [], "refs": {}},
        )
        for n in range(1, 4)
    }
    index = ActiveIndex.build(cases)
    assert index.sharing([], ["jo"]) == {"1", "2", "3"}
    index.remove(cases["2"])
    assert index.sharing([], ["jo"]) == {"1", "3"}
    index.remove(cases["1"])
    assert index.sharing([], ["jo"]) == {"3"}
    assert index.sharing(["https://example.com/x/3"], []) == {"3"}
    index.remove(cases["3"])
    assert index.sharing(["https://example.com/x/3"], ["jo"]) == set()
    index.add("2", cases["2"])
    assert index.sharing([], ["jo"]) == {"2"}
