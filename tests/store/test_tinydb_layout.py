"""The TinyDB store's files: root contents, history segments, garbage and damaged files."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

from tests.store._files import compacted_root
from tests.store.builders import T0, make_case, make_mention, make_new, make_ref, moved
from triagebot.cases.records import CaseState, NewCase
from triagebot.errors import StoreError
from triagebot.store import open_store
from triagebot.store._root import FORMAT
from triagebot.store._squeeze import unsqueeze
from triagebot.store.tinydb_store import TinyDBStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "triagebot.json"


def root(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = compacted_root(path)
    return data


def meta(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = root(path)["meta"]["1"]
    return data


def root_case_ids(path: Path) -> set[str]:
    return {doc["id"] for doc in root(path).get("cases", {}).values()}


def history_files(path: Path) -> dict[str, int]:
    """File name -> mtime_ns of everything in the history directory."""
    directory = path.with_name("triagebot.history")
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} if directory.exists() else {}


def segment_ids(path: Path) -> list[list[str]]:
    directory = path.with_name("triagebot.history")
    return [
        [doc["id"] for doc in json.loads((directory / s["file"]).read_text())["cases"].values()]
        for s in meta(path)["segments"]
    ]


def close_case(store: TinyDBStore, case_id: str, state: CaseState = CaseState.RESOLVED) -> None:
    case = store.get_case(case_id)
    store.save_case(moved(case, state), case.version)


def test_open_store_factory(path: Path) -> None:
    store = open_store(path)
    assert isinstance(store, TinyDBStore)
    store.close()
    with pytest.raises(StoreError, match="PostgreSQL"):
        open_store(path, "postgresql://127.0.0.1:1/triagebot")  # nothing listens on port 1


def test_missing_file_is_an_empty_store(path: Path) -> None:
    with TinyDBStore(path) as store:
        assert store.list_cases() == []
        assert not path.exists()  # reading writes nothing
        assert store.migrate() == []
    assert meta(path)["format"] == FORMAT


def _snapshot_cases(data: bytes) -> tuple[bytes, list[tuple[list[Any], bytes]]]:
    """(first line, [(head, document as stored)]) of a snapshot, read as the store reads it:
    each document by the size its head gives, then a newline."""
    first, rest = data.split(b"\n", 1)
    heads, rest = rest.split(b"\n", 1)
    cases = []
    for head in json.loads(heads):
        size = head[-1]
        cases.append((head, rest[:size]))
        assert rest[size : size + 1] == b"\n"
        rest = rest[size + 1 :]
    assert rest == b""
    return first, cases


def test_the_snapshot_keeps_the_heads_then_a_line_per_active_case(path: Path) -> None:
    """A compacted root (the snapshot): a line of the other tables, meta first; a line of
    every active case's head (slot, SLA facts, version, mention, cross-post keys, size of the
    document); then each document, compressed, followed by a newline."""
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
        store.set_cursor("x", "42")
    compacted_root(path)
    first, cases = _snapshot_cases(path.read_bytes())
    tables = json.loads(first)
    assert next(iter(tables)) == "meta" and "cases" not in tables
    assert tables["meta"]["1"]["format"] == FORMAT
    assert list(tables["cursors"].values()) == [{"source": "x", "cursor": "42"}]
    assert len(cases) == 2
    for head, stored in cases:
        _slot, facts, version, mention_id, urls, _author, size = head
        plain = unsqueeze(stored)
        assert len(stored) < len(plain) / 2  # compressed, well
        case = json.loads(plain)
        assert (facts[0], version, mention_id) == (case["id"], 1, case["mention"]["id"])
        assert urls == case["crosspost"]["urls"] and size == len(stored)


def test_a_root_of_format_2_is_read_and_migrate_writes_it_anew(path: Path) -> None:
    """Format 2 wrote the root as one TinyDB file; it is read as it is, and ``migrate``
    rewrites it in the current layout."""
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
    old = compacted_root(path)
    old["meta"]["1"]["format"] = 2
    path.write_text(json.dumps(old))
    with TinyDB(path) as db:  # what format 2 was
        assert sorted(d["id"] for d in db.table("cases").all()) == ["1", "2"]
    with TinyDBStore(path) as store:
        assert sorted(c.id for c in store.list_cases()) == ["1", "2"]
        assert store.known_mentions(["x:2", "x:3"]) == {"x:2"}
        assert store.migrate() == [
            f"wrote the store's snapshot, active cases compressed (format {FORMAT})"
        ]
        assert store.migrate() == []
    first, cases = _snapshot_cases(path.read_bytes())
    assert json.loads(first)["meta"]["1"]["format"] == FORMAT and len(cases) == 2
    with TinyDBStore(path) as store:
        assert store.get_case("2").mention.id == "x:2"


def test_a_snapshot_of_format_3_is_read_and_migrate_compresses_it(path: Path) -> None:
    """Format 3 kept each active case's plain JSON on its line; it is read as it is (and
    kept compressed in memory), and ``migrate`` writes the documents compressed."""
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
        case = store.get_case("2")
        store.save_case(moved(case, CaseState.CLAIMED), case.version)
    compacted_root(path)
    first, cases = _snapshot_cases(path.read_bytes())
    tables = json.loads(first)
    tables["meta"]["1"]["format"] = 3
    plain = [unsqueeze(stored) for _, stored in cases]
    heads = [[*head[:-1], len(doc)] for (head, _), doc in zip(cases, plain, strict=True)]
    lines = [json.dumps(tables).encode(), json.dumps(heads).encode(), *plain, b""]
    path.write_bytes(b"\n".join(lines))
    with TinyDBStore(path) as store:
        claimed = store.get_case("2")
        assert claimed.state is CaseState.CLAIMED and claimed.claimed_by is not None
        assert all(p.data[:1] == b"\x01" for p in store._root["cases"].values())
        assert store.migrate() == [
            f"wrote the store's snapshot, active cases compressed (format {FORMAT})"
        ]
    first, cases = _snapshot_cases(path.read_bytes())
    assert json.loads(first)["meta"]["1"]["format"] == FORMAT
    assert [unsqueeze(stored) for _, stored in cases] == plain
    with TinyDBStore(path) as store:
        assert sorted(c.id for c in store.list_cases()) == ["1", "2"]
        assert store.get_case("2") == claimed


@pytest.mark.parametrize(
    "damage",
    [
        lambda heads, docs: (heads[:-9], docs),  # the heads cut short
        lambda heads, docs: (heads.replace(b'"1"', b"1", 1), docs),  # a slot not a string
        lambda heads, docs: (heads, docs[:-5] + b"\n"),  # a document shorter than its size
        lambda heads, docs: (heads, docs + b"{}\n"),  # bytes after the last document
    ],
)
def test_damaged_active_cases_name_the_file(path: Path, damage: Any) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
    compacted_root(path)
    first, heads, docs = path.read_bytes().split(b"\n", 2)
    heads, docs = damage(heads, docs)
    path.write_bytes(first + b"\n" + heads + b"\n" + docs)
    named = r"triagebot\.json: (an active case|the active cases|not valid JSON)"
    with pytest.raises(StoreError, match=named):
        TinyDBStore(path)


def test_a_damaged_document_names_the_file_when_read(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
    compacted_root(path)
    data = path.read_bytes()
    ((_, doc),) = _snapshot_cases(data)[1]
    broken = doc[:20] + b"!" * (len(doc) - 20)  # compressed bytes changed, its size kept
    path.write_bytes(data.replace(doc, broken))
    with TinyDBStore(path) as store:  # the head reads; the document does not
        (case,) = store.list_cases()
        assert case.state is CaseState.NEW
        with pytest.raises(StoreError, match=r"triagebot\.json"):
            case.mention  # noqa: B018
        with pytest.raises(StoreError, match=r"triagebot\.json"):
            store.get_case("1")


def test_active_case_embeds_events_and_refs(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        store.set_message_ref("1", make_ref("slack"))
    (doc,) = root(path)["cases"].values()
    assert [e["action"] for e in doc["events"]] == ["created"]
    assert doc["refs"]["slack"]["channel"] == "C0SUPPORT"
    assert [d["id"] for d in root(path)["outbox"].values()] == ["post-1"]


def test_closing_moves_the_case_to_a_segment(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2")])
        store.set_message_ref("1", make_ref())
        close_case(store, "1")
        assert root_case_ids(path) == {"2"}
        (segment,) = meta(path)["segments"]
        assert segment["count"] == 1
        assert segment["min_ingested_at"] == segment["max_ingested_at"] == T0.isoformat()
        assert segment_ids(path) == [["1"]]
        index = json.loads(
            path.with_name("triagebot.history").joinpath(segment["index"]).read_text()
        )
        assert index == {"segment": segment["file"], "cases": {"1": "x:1"}}
        assert store.message_refs("1") == {"slack": make_ref()}


def test_reopening_moves_the_case_back(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2")])
        close_case(store, "1")
        close_case(store, "2")
        case = store.get_case("1")
        store.save_case(moved(case, CaseState.OPEN), case.version)
        assert root_case_ids(path) == {"1"}
        assert segment_ids(path) == [["2"]]
        (doc,) = root(path)["cases"].values()
        assert [e["action"] for e in doc["events"]] == ["created"]
        assert doc["state"] == "open"


def test_a_claim_does_not_touch_history(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as store:
        store.add_cases([make_new(str(n)) for n in range(1, 6)])
        for n in "123":
            close_case(store, n)
        before = history_files(path)
        time.sleep(0.01)
        case = store.get_case("4")
        store.save_case(moved(case, CaseState.CLAIMED), case.version)
        store.set_message_ref("4", make_ref())
        store.set_cursor("x", "1")
        assert history_files(path) == before


def test_segments_roll_over_at_capacity(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=3) as store:
        store.add_cases([make_new(str(n)) for n in range(1, 8)])
        for n in range(1, 8):
            close_case(store, str(n))
        assert segment_ids(path) == [["1", "2", "3"], ["4", "5", "6"], ["7"]]
        assert [s["count"] for s in meta(path)["segments"]] == [3, 3, 1]
        assert len({s["file"] for s in meta(path)["segments"]}) == 3
        assert all(store.get_case(str(n)).state is CaseState.RESOLVED for n in range(1, 8))


def test_a_batch_of_spam_fills_several_segments(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as store:
        store.add_cases([make_new(str(n), state=CaseState.SPAM) for n in range(1, 6)])
        assert segment_ids(path) == [["1", "2"], ["3", "4"], ["5"]]
        assert root_case_ids(path) == set()


def test_a_reopen_emptying_a_segment_drops_it(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=1) as store:
        store.add_cases([make_new("1"), make_new("2")])
        close_case(store, "1")
        close_case(store, "2")
        case = store.get_case("1")
        store.save_case(moved(case, CaseState.OPEN), case.version)
        assert segment_ids(path) == [["2"]]


def test_segment_ranges_use_ingested_at(path: Path) -> None:
    early, late = T0, T0 + timedelta(days=30)
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1", ingested_at=late), make_new("2", ingested_at=early)])
        close_case(store, "1")
        close_case(store, "2")
    (segment,) = meta(path)["segments"]
    assert (segment["min_ingested_at"], segment["max_ingested_at"]) == (
        early.isoformat(),
        late.isoformat(),
    )


def test_list_opens_only_overlapping_segments(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as store:
        new = [make_new(str(n), ingested_at=T0 + timedelta(days=n)) for n in range(1, 7)]
        store.add_cases(new)
        for n in range(1, 7):
            close_case(store, str(n))
    old = meta(path)["segments"][0]["file"]
    path.with_name("triagebot.history").joinpath(old).write_text("damaged")
    with TinyDBStore(path) as store:
        recent = store.list_cases(since=T0 + timedelta(days=3))
        assert [c.id for c in recent] == ["6", "5", "4", "3"]
        assert [c.id for c in store.list_cases(limit=2)] == ["6", "5"]
        with pytest.raises(StoreError, match=old):
            store.list_cases()


def test_replaced_files_are_collected_after_the_grace_period(path: Path) -> None:
    with TinyDBStore(path, gc_grace=300) as store:
        store.add_cases([make_new("1"), make_new("2"), make_new("3")])
        close_case(store, "1")
        first = set(history_files(path))
        close_case(store, "2")
        assert first <= set(history_files(path))  # kept for readers of the old root
        assert {g["file"] for g in meta(path)["garbage"]} == first
    with TinyDBStore(path, gc_grace=0) as store:
        close_case(store, "3")
        live = {n for s in meta(path)["segments"] for n in (s["file"], s["index"], s["facts"])}
        assert set(history_files(path)) == live
        assert meta(path)["garbage"] == []


def test_orphans_are_ignored_then_removed(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2")])
        close_case(store, "1")
    history = path.with_name("triagebot.history")
    orphans = [
        history / "seg-000001-deadbeef.json",
        history / "seg-000001-deadbeef.idx.json",
        history / ".seg-000009-cafe.json.tmp-1234",
        path.with_name(".triagebot.json.tmp-abcd1234"),
    ]
    for orphan in orphans:
        orphan.write_text('{"cases": {"1": {"id": "1"')  # a crash cut it short
    with TinyDBStore(path) as store:
        assert store.get_case("1").state is CaseState.RESOLVED
        assert [c.id for c in store.list_cases()] == ["2", "1"]
        close_case(store, "2")
        assert all(o.exists() for o in orphans)  # too young to be collected
    with TinyDBStore(path, gc_grace=0) as store:
        store.set_cursor("x", "1")
        assert not any(o.exists() for o in orphans)
        assert [c.id for c in store.list_cases()] == ["2", "1"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"cases": {"1": {"id": "1", "sta', "not valid JSON"),
        ("[1, 2]", "not a triagebot store"),
        ('{"cases": [1]}', "malformed"),
        ('{"meta": {"1": {"segments": "x"}}}', "meta document is malformed"),
        (b'{"a": "\xff"}', "UTF-8"),
    ],
)
def test_damaged_root_names_the_file(path: Path, content: str | bytes, problem: str) -> None:
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(StoreError) as caught:
        TinyDBStore(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_damage_appearing_later_is_reported(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        path.write_text("{")
        with pytest.raises(StoreError, match="not valid JSON"):
            store.get_case("1")


def test_newer_format_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"meta": {"1": {"format": FORMAT + 1}}}))
    with pytest.raises(StoreError, match="newer triagebot"):
        TinyDBStore(path)


def test_damaged_segment_names_the_file(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        close_case(store, "1")
    segment = meta(path)["segments"][0]["file"]
    path.with_name("triagebot.history").joinpath(segment).write_text('{"cases": ')
    with TinyDBStore(path) as store, pytest.raises(StoreError, match=segment):
        store.get_case("1")


def test_two_instances_never_read_stale_data(path: Path) -> None:
    one, two = TinyDBStore(path, segment_capacity=2), TinyDBStore(path, segment_capacity=2)
    try:
        one.add_cases([make_new(str(n)) for n in range(1, 5)])
        assert two.get_case("4").state is CaseState.NEW
        close_case(two, "1")
        close_case(one, "2")
        close_case(two, "3")
        assert [c.state for c in one.list_cases(states=[CaseState.RESOLVED])] == 3 * [
            CaseState.RESOLVED
        ]
        case = one.get_case("1")
        one.save_case(moved(case, CaseState.OPEN), case.version)
        assert two.get_case("1").state is CaseState.OPEN
        assert two.add_cases([make_new("9", mention_id="x:3")]) == [False]
        for _ in range(20):  # same-size rewrites in quick succession
            one.set_cursor("x", "a")
            assert two.get_cursor("x") == "a"
            two.set_cursor("x", "b")
            assert one.get_cursor("x") == "b"
    finally:
        one.close()
        two.close()


def test_segment_cache_is_bounded(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2, cache_segments=2) as store:
        store.add_cases([make_new(str(n), state=CaseState.RESOLVED) for n in range(1, 21)])
    with TinyDBStore(path, cache_segments=2) as store:
        for n in range(1, 21):
            assert store.get_case(str(n)).id == str(n)
        assert len(store._history._cache) <= 2
        store.list_cases()
        assert len(store._history._cache) <= 2


def test_strings_that_are_not_valid_unicode_round_trip(path: Path) -> None:
    text = "lone surrogate \ud800 and emoji 😀"
    case = replace(make_case("1"), mention=make_mention("x:1", text=text))
    with TinyDBStore(path) as store:
        store.add_cases([NewCase(case)])
    with TinyDBStore(path) as store:
        assert store.get_case("1").mention.text == text
    compacted_root(path)  # the snapshot: heads and documents written by the fallback encoder
    with TinyDBStore(path) as store:
        (listed,) = store.list_cases()
        assert listed.mention.text == text and store.get_case("1") == listed


def test_closed_store_refuses_work(path: Path) -> None:
    store = TinyDBStore(path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_case("1")


def test_no_temporary_files_are_left(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        close_case(store, "1")
    assert sorted(os.listdir(path.parent)) == [
        "triagebot.history",
        "triagebot.journal-000001",
        "triagebot.json",
        "triagebot.json.lock",
    ]


def test_lookup_opens_only_the_index_that_can_hold_the_id(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as store:
        store.add_cases([make_new(str(n), state=CaseState.RESOLVED) for n in range(1, 7)])
    segments = meta(path)["segments"]
    assert [(s["min_id"], s["max_id"]) for s in segments] == [(1, 2), (3, 4), (5, 6)]
    for segment in segments[1:]:
        path.with_name("triagebot.history").joinpath(segment["index"]).write_text("damaged")
    with TinyDBStore(path) as store:
        assert store.get_case("2").id == "2"
        with pytest.raises(StoreError, match="not valid JSON"):
            store.get_case("5")


def test_ids_that_are_not_numbers(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as store:
        store.add_cases([make_new(i, state=CaseState.SPAM) for i in ("a", "7", "b")])
        assert [(s["min_id"], s["max_id"]) for s in meta(path)["segments"]] == [
            (None, None),
            (None, None),
        ]
    with TinyDBStore(path) as store:
        assert [store.get_case(i).id for i in ("b", "7", "a")] == ["b", "7", "a"]
        assert store.has_mention("x:b")
        assert store.next_case_ids(1) == ["8"]
