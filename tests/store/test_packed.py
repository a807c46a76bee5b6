"""Packed active cases cost their size in memory."""

from __future__ import annotations

import io
import tracemalloc
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.store.builders import T0, make_case, make_outbox
from triagebot.cases.records import NewCase
from triagebot.errors import StoreError
from triagebot.store import _packed
from triagebot.store._index import ActiveIndex
from triagebot.store._outbox import queued
from triagebot.store._packed import encode_cases, pack, read_cases
from triagebot.store.tinydb_store import TinyDBStore


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
    index = ActiveIndex(cases)
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


def test_queued_outbox_items_are_kept_compressed(tmp_path: Path) -> None:
    """A viral day leaves tens of thousands of items queued: each is kept as its compressed
    JSON (with the few fields the lease order reads), not as a parsed document (~700 bytes),
    and reads back as it was written, from memory and from the files."""
    items = [make_outbox(f"{n:032x}", str(n), created_at=T0) for n in range(2_000)]
    docs = [item.to_dict() for item in items]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        kept = [queued(doc) for doc in docs]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < len(docs) * 330
    assert [k.doc(tmp_path) for k in kept] == docs
    path = tmp_path / "triagebot.json"
    with TinyDBStore(path) as store:
        store.add_cases([NewCase(make_case("1"), (), ())])
        store.queue_outbox(items[:50])
    with TinyDBStore(path) as store:
        leased = store.lease_outbox(T0 + timedelta(hours=1), 100, timedelta(seconds=30))
    assert [i.id for i in leased] == [i.id for i in items[:50]]
    assert [replace(i, next_attempt_at=None) for i in leased] == items[:50]


def test_the_snapshot_reads_documents_across_its_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Documents of many sizes, one far larger than a block, read with blocks smaller than most
    # documents and with the usual block: the same cases; a cut or a tail is refused.
    cases = []
    for n in range(1, 40):
        text = "é" * (n * 97 % 300) + ("word " * 4_000 if n == 17 else "")
        cases.append(pack(str(n), make_case(str(n), text=text).to_dict() | {"events": []}))
    data = encode_cases(cases)
    for block in (7, 1 << 20):
        monkeypatch.setattr(_packed, "_BLOCK", block)
        read = read_cases(io.BufferedReader(io.BytesIO(data)), Path("root.json"))
        assert list(read) == [p.head[0] for p in cases]
        assert [p.data for p in read.values()] == [p.data for p in cases]
        assert [p.head for p in read.values()] == [p.head for p in cases]
        for bad in (data[:-2], data + b"x"):
            with pytest.raises(StoreError, match=r"root\.json: (the|an) active cases? (is|are) "):
                read_cases(io.BufferedReader(io.BytesIO(bad)), Path("root.json"))
