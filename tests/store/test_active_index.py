"""Mention and cross-post lookups answered from indexes: every store answers a batch of
mention ids at once; the TinyDB store keeps its indexes in step with every commit."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.store._files import compacted_root
from tests.store.builders import T0, make_event, make_new, moved
from tests.store.conftest import Opener
from triagebot.cases.facts import crosspost_keys
from triagebot.cases.records import JSON, Case, CaseState
from triagebot.store._index import KEYS_FIELD
from triagebot.store._packed import Packed
from triagebot.store.tinydb_store import TinyDBStore

SINCE = T0 - timedelta(days=1)


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def test_known_mentions_answers_for_a_batch_active_and_closed(open_store: Opener) -> None:
    store = open_store()
    store.add_cases([make_new("1", mention_id="x:a"), make_new("2", mention_id="x:b")])
    case = store.get_case("2")
    store.save_case(moved(case, CaseState.SPAM), case.version)  # into history
    assert store.known_mentions(["x:a", "x:b", "x:c", "x:a"]) == {"x:a", "x:b"}
    assert store.known_mentions([]) == set()
    assert open_store().known_mentions(["x:b", "x:z"]) == {"x:b"}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "triagebot.json"


def test_a_cross_post_lookup_decodes_only_the_cases_it_finds(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 201)])
    decoded: list[str] = []
    doc = Packed.doc

    def counted(packed: Packed, at: Path) -> JSON:
        decoded.append(packed.id)
        return doc(packed, at)

    with TinyDBStore(path) as cold:
        wanted = crosspost_keys(cold.get_case("150")).urls
        monkeypatch.setattr(Packed, "doc", counted)
        found = cold.crosspost_candidates(wanted, {"nobody"}, SINCE)
        assert _ids(found) == ["150"]
        assert decoded == []  # the head tells the id and the time
        assert found[0].mention.url.endswith("150") or found[0].mention.id == "x:150"
        assert decoded == ["150"]


def test_the_indexes_follow_a_case_out_of_and_back_into_the_root(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:other")])
        first = store.get_case("1")
        url = crosspost_keys(first).urls
        closed = moved(first, CaseState.RESOLVED)
        store.save_case(closed, first.version)
        assert store.crosspost_candidates(url, set(), SINCE) == []
        assert store.known_mentions(["x:1"]) == {"x:1"}  # from history now
        seen = replace(moved(closed, CaseState.OPEN), also_on=("https://example.org/seen/1",))
        store.save_case(seen, closed.version)
        assert _ids(store.crosspost_candidates(url, set(), SINCE)) == ["1"]
        found = store.crosspost_candidates({"https://example.org/seen/1"}, set(), SINCE)
        assert _ids(found) == ["1"]
        assert _ids(store.crosspost_candidates(set(), {"jo"}, SINCE)) == ["2", "1"]
    root = compacted_root(path)
    kept = {doc["id"]: doc[KEYS_FIELD] for doc in root["cases"].values()}
    assert kept["1"]["v"] == 3
    assert "https://example.org/seen/1" in kept["1"]["urls"]


def test_a_failed_batch_leaves_the_indexes_as_the_file_is(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        with pytest.raises(ValueError, match="already stored"):
            store.add_cases([make_new("2", mention_id="x:two"), make_new("1", mention_id="x:b")])
        assert store.known_mentions(["x:two", "x:1"]) == {"x:1"}
        assert store.crosspost_candidates(set(), {"jo"}, SINCE) == [store.get_case("1")]


def test_another_process_s_commit_is_seen_by_the_indexes(path: Path) -> None:
    with TinyDBStore(path) as one, TinyDBStore(path) as two:
        assert two.known_mentions(["x:1"]) == set()
        one.add_cases([make_new("1")])
        assert two.known_mentions(["x:1"]) == {"x:1"}
        assert _ids(two.crosspost_candidates(set(), {"jo"}, SINCE)) == ["1"]
        case = two.get_case("1")
        two.save_case(moved(case, CaseState.RESOLVED), case.version, [make_event(case)])
        assert one.crosspost_candidates(set(), {"jo"}, SINCE) == []


def test_keys_an_earlier_version_did_not_keep_are_derived_and_migrate_writes_them(
    path: Path,
) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
    root = compacted_root(path)
    docs = list(root["cases"].values())
    del docs[0][KEYS_FIELD]  # as an earlier version wrote it
    docs[1][KEYS_FIELD]["v"] = 0  # written for another version of the case
    docs[1][KEYS_FIELD]["urls"] = ["https://example.com/wrong"]
    path.write_text(json.dumps(root))
    with TinyDBStore(path) as store:
        urls = crosspost_keys(store.get_case("2")).urls
        assert _ids(store.crosspost_candidates(urls, set(), SINCE)) == ["2"]
        assert store.crosspost_candidates({"https://example.com/wrong"}, set(), SINCE) == []
        assert store.migrate() == []  # derived data: nothing to report
    root = compacted_root(path)
    assert all(doc[KEYS_FIELD]["v"] == 1 for doc in root["cases"].values())
