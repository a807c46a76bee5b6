"""Cases listed from the embedded store's packed documents: decoded on first read, and the
same as the cases they stand for in every way a caller can tell."""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from tests.store.builders import make_new, moved
from triagebot.cases.records import Case, CaseState
from triagebot.store._lazy import LazyCase
from triagebot.store._packed import Packed
from triagebot.store.tinydb_store import TinyDBStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyDBStore]:
    with TinyDBStore(tmp_path / "db.json") as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 4)])
        case = store.get_case("2")
        store.save_case(moved(case, CaseState.CLAIMED), case.version)
        yield store


def test_a_listed_case_equals_the_case_read_by_id(store: TinyDBStore) -> None:
    listed = {c.id: c for c in store.list_cases()}
    for case_id in ("1", "2", "3"):
        whole = store.get_case(case_id)
        lazy = listed[case_id]
        assert isinstance(lazy, LazyCase) and type(whole) is Case
        assert lazy == whole and whole == lazy  # both orders, before and after decoding
        assert hash(lazy) == hash(whole)
        assert asdict(lazy) == asdict(whole)
        assert repr(lazy) == repr(whole)
    assert listed["2"].state is CaseState.CLAIMED and listed["2"].version == 2
    assert listed["1"] != listed["2"]
    assert listed["1"] != object()


def test_the_head_is_read_without_decoding_and_the_rest_once(
    store: TinyDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    doc = Packed.doc

    def counted(packed: Packed, at: Path) -> dict[str, object]:
        decoded.append(packed.id)
        return doc(packed, at)

    monkeypatch.setattr(Packed, "doc", counted)
    (case,) = store.list_cases(states=[CaseState.CLAIMED])
    head = (case.id, case.version, case.state, case.department)
    assert head == ("2", 2, CaseState.CLAIMED, "support")
    assert decoded == []
    assert case.claimed_by is not None and case.mention.id == "x:2" and case.cc == ()
    assert decoded == ["2"]


def test_replace_copy_and_pickle_give_whole_cases(store: TinyDBStore) -> None:
    (lazy,) = store.list_cases(states=[CaseState.NEW], limit=1)
    changed = replace(lazy, state=CaseState.OPEN)
    assert changed.state is CaseState.OPEN and changed.mention == store.get_case(lazy.id).mention
    assert copy.copy(lazy) == lazy and copy.deepcopy(lazy) == lazy
    restored = pickle.loads(pickle.dumps(lazy))
    assert type(restored) is Case and restored == store.get_case(lazy.id)


def test_a_listed_case_is_saved_like_any_other(store: TinyDBStore) -> None:
    (lazy,) = store.list_cases(states=[CaseState.NEW], limit=1)
    store.save_case(moved(lazy, CaseState.RESOLVED), lazy.version)
    assert store.get_case(lazy.id).state is CaseState.RESOLVED


def _read_at_once(case: Case, readers: int = 4) -> list[object]:
    seen: list[object] = []
    barrier = threading.Barrier(readers)

    def read() -> None:
        barrier.wait()
        seen.append((case.mention.id, case.claimed_by, case.ingested_at))

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen


def test_threads_reading_one_case_at_once_see_the_same_fields(store: TinyDBStore) -> None:
    for _ in range(20):
        (lazy,) = store.list_cases(states=[CaseState.CLAIMED])
        seen = _read_at_once(lazy)
        assert len(seen) == 4 and len(set(seen)) == 1
