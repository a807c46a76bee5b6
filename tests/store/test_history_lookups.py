"""Where case ids and mention ids are in history: compact hashes, every hit confirmed by the
segment's own index, right across processes, reopened cases and replaced segments."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.store.builders import make_case, make_new, moved
from triagebot.cases.records import CaseState, NewCase
from triagebot.store._hashes import SEQ_MASK, SegmentHashes, hashes
from triagebot.store.tinydb_store import TinyDBStore

CLOSED = 120  # 30 segments of 4: more than load_all reads one at a time


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "triagebot.json"
    with TinyDBStore(path, segment_capacity=4) as store:
        closed = [
            NewCase(make_case(str(n), mention_id=f"x:{n}", state=CaseState.RESOLVED))
            for n in range(1, CLOSED + 1)
        ]
        assert all(store.add_cases(closed))
        assert all(store.add_cases([make_new("1000", mention_id="x:active")]))
    return path


def test_a_fresh_process_finds_every_closed_mention_and_case(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=4) as store:
        asked = [f"x:{n}" for n in range(1, CLOSED + 1, 3)] + ["x:active", "x:new", "x:0"]
        assert store.known_mentions(asked) == set(asked) - {"x:new", "x:0"}
        assert store._history._all_loaded()
        for n in range(1, CLOSED + 1, 7):
            assert store.get_case(str(n)).mention.id == f"x:{n}"
        assert not store.has_mention("x:121")


def test_a_case_is_found_before_any_mention_lookup(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=4) as store:
        assert store.get_case("3").state is CaseState.RESOLVED  # one index read, newest first
        assert not store._history._all_loaded()
        assert store.get_case("118").mention.id == "x:118"


def test_a_hash_hit_not_in_the_segment_is_not_a_match(path: Path) -> None:
    """As a collision would be: the lookups name a segment, its index says otherwise."""
    with TinyDBStore(path, segment_capacity=4) as store:
        assert store.has_mention("x:5")
        history = store._history
        newest = history.segments[-1]
        history._mention_ids.add(newest.seq, ["x:never-stored"])
        history._case_ids.add(newest.seq, ["777"])
        assert newest.seq in history._mention_ids.segments_of("x:never-stored")
        assert not store.has_mention("x:never-stored")
        assert store.known_mentions(["x:never-stored", "x:5"]) == {"x:5"}
        with pytest.raises(Exception, match="no case 777"):
            store.get_case("777")


def test_reopened_and_closed_again_in_another_process(path: Path) -> None:
    with (
        TinyDBStore(path, segment_capacity=4) as reader,
        TinyDBStore(path, segment_capacity=4) as writer,
    ):
        assert reader.known_mentions(["x:2", "x:3"]) == {"x:2", "x:3"}  # all loaded
        case = writer.get_case("2")
        reopened = moved(case, CaseState.OPEN)
        writer.save_case(reopened, case.version)  # leaves its segment
        assert reader.get_case("2").state is CaseState.OPEN
        assert reader.has_mention("x:2")
        writer.save_case(moved(reopened, CaseState.SPAM), reopened.version)  # the newest one
        assert reader.get_case("2").state is CaseState.SPAM
        assert reader.known_mentions(["x:2", "x:3"]) == {"x:2", "x:3"}
        assert writer.add_cases([make_new("2000", mention_id="x:2")]) == [False]
        assert reader.get_case("3").state is CaseState.RESOLVED


def test_the_lookups_merge_and_keep_one_entry_per_key_and_segment() -> None:
    lookups = SegmentHashes(merge_at=5)
    lookups.add(1, ["a", "b"])
    lookups.add(1, ["a", "b", "c"])  # a new version of segment 1
    assert len(lookups) == 3
    lookups.add(2, ["c", "d", "e"])  # five keys, six pairs: merged into the sorted arrays
    assert len(lookups) == 6 and lookups.nbytes == 6 * 8
    lookups.add(2, ["c"])  # known: merged away
    lookups.add_many([(3, hashes(["a", "z"]))])
    assert len(lookups) == 8 and lookups.nbytes == 8 * 8
    assert lookups.segments_of("a") == {1, 3}
    assert lookups.segments_of("c") == {1, 2}
    assert lookups.segments_of("nope") == set()
    assert lookups.segments_of_many(["z", "c", "nope", "e"]) == {"z": {3}, "c": {1, 2}, "e": {2}}


def test_an_empty_lookup_answers_nothing() -> None:
    lookups = SegmentHashes()
    assert lookups.segments_of("a") == set()
    assert lookups.segments_of_many(["a"]) == {}
    lookups.add_many([])
    assert len(lookups) == 0 and lookups.nbytes == 0


def test_the_lookups_answer_as_a_dict_of_sets_would() -> None:
    rng = random.Random(3)
    lookups, expected = SegmentHashes(merge_at=40), dict[str, set[int]]()
    keys = [f"k{n}" for n in range(60)]
    for step in range(200):
        seq, chosen = rng.randint(1, 9), rng.sample(keys, rng.randint(1, 12))
        if step % 17 == 0:
            lookups.add_many([(seq, hashes(chosen))])
        else:
            lookups.add(seq, chosen)
        for key in chosen:
            expected.setdefault(key, set()).add(seq)
        if step % 50 == 49:
            assert all(lookups.segments_of(k) == expected.get(k, set()) for k in keys)
    assert lookups.segments_of_many([*keys, "nope"]) == expected
    assert len(lookups) >= sum(map(len, expected.values()))
    lookups.add_many([])
    assert len(lookups) == sum(map(len, expected.values()))  # one entry per pair once merged


def test_a_batch_of_active_mentions_reads_no_history(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=4) as store:
        assert store.known_mentions(["x:active"]) == {"x:active"}
        assert store.known_mentions([]) == set()
        assert not store._history._loaded  # no segment index was read


def test_segments_up_to_the_last_number_the_entries_hold() -> None:
    lookups = SegmentHashes()
    keys = [f"m{n}" for n in range(500)]
    lookups.add_many([(SEQ_MASK, hashes(keys[:250])), (0, hashes(keys[250:]))])
    lookups.add(SEQ_MASK, ["late"])
    assert lookups.segments_of_many([*keys[::50], "late", "nope"]) == {
        **{k: {SEQ_MASK} for k in keys[:250:50]},
        **{k: {0} for k in keys[250::50]},
        "late": {SEQ_MASK},
    }
    with pytest.raises(ValueError, match="beyond"):
        lookups.add(SEQ_MASK + 1, ["x"])
