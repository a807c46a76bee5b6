"""The TinyDB store's journal: a write appends the change, replay, torn and damaged records,
compaction (inline and in a child process), adoption of a compacted snapshot, conversion of a
store older than the journal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.store._files import compacted_root, read_root
from tests.store.builders import make_event, make_new, make_outbox, moved
from triagebot.cases.records import CaseState
from triagebot.errors import StoreError
from triagebot.store import _engine
from triagebot.store._journal import journal_path
from triagebot.store._root import FORMAT
from triagebot.store.tinydb_store import TinyDBStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "triagebot.json"


def journals(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if ".journal-" in p.name)


def claim(store: TinyDBStore, case_id: str) -> None:
    case = store.get_case(case_id)
    nxt = moved(case, CaseState.CLAIMED)
    store.save_case(nxt, case.version, [make_event(nxt)], [make_outbox(f"c-{case_id}", case_id)])


def test_a_claim_appends_its_change_and_leaves_the_root_alone(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 301)])
        before = os.stat(path)
        journal = journal_path(path, 1)  # the first write of a new store was a snapshot
        size = journal.stat().st_size if journal.exists() else 0
        claim(store, "7")
        grown = journal.stat().st_size - size
        after = os.stat(path)
    last = json.loads(journal.read_bytes().splitlines()[-1].split(b" ", 1)[1])
    assert sorted(last["t"]) == ["cases", "outbox"]  # meta did not change: not written again
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    one_case = len(json.dumps(compacted_root(path)["cases"]["7"]))
    assert 0 < grown < one_case + 1_000  # the case and its outbox item: not 300 cases, no meta


def test_another_process_sees_each_write_and_reads_only_what_is_new(path: Path) -> None:
    with TinyDBStore(path) as one, TinyDBStore(path) as two:
        one.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
        assert two.get_case("2").version == 1
        tables = two._root
        claim(one, "1")
        assert two.get_case("1").state is CaseState.CLAIMED
        assert two._root is tables  # the journal's new record applied, the root not re-read
        assert two.pending_outbox() == one.pending_outbox() == 3


def test_a_torn_last_record_is_ignored_and_cut_off_by_the_next_write(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        claim(store, "1")
    (journal,) = journals(path)
    whole = journal.read_bytes()
    last = whole[:-1].rfind(b"\n") + 1
    journal.write_bytes(whole[: last + (len(whole) - last) // 2])  # the claim, half written
    with TinyDBStore(path) as store:
        case = store.get_case("1")
        assert (case.state, case.version) == (CaseState.NEW, 1)
        claim(store, "1")
    with TinyDBStore(path) as store:
        assert store.get_case("1").version == 2
        assert len(store.events("1")) == 2
    assert journal.read_bytes().count(b"\n") == whole.count(b"\n")


def test_a_damaged_record_before_others_is_an_error_naming_the_file(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
        claim(store, "1")
        store.set_cursor("x", "9")
    (journal,) = journals(path)
    data = bytearray(journal.read_bytes())
    data[20] ^= 0x01  # a bit flipped inside the first record
    journal.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"journal-000001: damaged journal record at byte 0"):
        TinyDBStore(path)


def test_compaction_folds_the_journal_into_the_root_and_others_adopt_it(path: Path) -> None:
    with TinyDBStore(path) as one, TinyDBStore(path) as two:
        one.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
        claim(one, "1")
        assert two.get_case("1").version == 2
        tables = two._root
        assert one.compact()
        assert read_root(path)["meta"]["1"]["journal"] == 2
        claim(one, "2")
        assert two.get_case("2").state is CaseState.CLAIMED
        assert two._root is tables  # past the point the snapshot covers: adopted unread
        assert one.compact()  # journal 1 goes with the compaction after next
        assert [p.name for p in journals(path)] == ["triagebot.journal-000002"]
    with TinyDBStore(path) as three:
        assert [three.get_case(n).version for n in ("1", "2")] == [2, 2]


def test_a_process_two_compactions_behind_reads_the_store_again(path: Path) -> None:
    with TinyDBStore(path) as one, TinyDBStore(path) as two:
        one.add_cases([make_new("1")])
        assert two.known_mentions(["x:1"]) == {"x:1"}
        for n in range(2, 5):
            one.add_cases([make_new(str(n), mention_id=f"x:{n}")])
            assert one.compact()
        claim(one, "4")
        assert two.known_mentions([f"x:{n}" for n in range(1, 6)]) == {"x:1", "x:2", "x:3", "x:4"}
        assert two.get_case("4").state is CaseState.CLAIMED


def test_a_long_journal_is_compacted_on_a_thread_in_a_small_store(path: Path) -> None:
    with TinyDBStore(path, compact_bytes=8_000) as store:
        store.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 21)])
        for n in range(1, 21):
            claim(store, str(n))
            running = store._compact_thread
            if running is not None:  # a write past the threshold while one runs starts none
                running.join()
    # closing waited for the last compaction; each ended a journal and started the next
    assert read_root(path)["meta"]["1"]["journal"] > 2
    with TinyDBStore(path) as store:
        assert all(c.state is CaseState.CLAIMED for c in store.list_cases())


def test_a_large_store_compacts_in_a_child_process(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine, "INLINE_COMPACT_BYTES", 0)  # every store counts as large
    with TinyDBStore(path, compact_bytes=1) as store:
        store.add_cases([make_new("1")])  # the first write of a new store: a snapshot
        claim(store, "1")
        child = store._compactor
        assert child is not None
        assert child.args[1:3] == ["-m", "triagebot.store._compact"]  # type: ignore[index]
        assert child.wait(timeout=60) == 0
        assert read_root(path)["meta"]["1"]["journal"] == 2
        store.add_cases([make_new("2", mention_id="x:2")])
        assert store.get_case("1").state is CaseState.CLAIMED
        if store._compactor is not None:
            store._compactor.wait(timeout=60)
    with TinyDBStore(path) as store:
        assert {c.id for c in store.list_cases()} == {"1", "2"}


def test_migrate_converts_a_store_older_than_the_journal(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1"), make_new("2", mention_id="x:2")])
        claim(store, "2")
    root = compacted_root(path)
    meta = root["meta"]["1"]
    del meta["journal"]
    meta["format"] = 1
    for journal in journals(path):
        journal.unlink()
    path.write_text(json.dumps(root))  # as the version before the journal wrote it
    with TinyDBStore(path) as store:
        assert store.get_case("2").state is CaseState.CLAIMED
        assert store.migrate() == [
            f"wrote the store as a snapshot continued by a journal (format {FORMAT})"
        ]
        assert store.migrate() == []
        claim(store, "1")
    meta = read_root(path)["meta"]["1"]
    assert (meta["format"], meta["journal"]) == (FORMAT, 1)
    assert journal_path(path, 1).exists()
    with TinyDBStore(path) as store:
        assert [c.state for c in store.list_cases()] == [CaseState.CLAIMED] * 2


def test_an_earlier_version_refuses_a_store_with_a_journal(path: Path) -> None:
    with TinyDBStore(path) as store:
        store.add_cases([make_new("1")])
    assert read_root(path)["meta"]["1"]["format"] == FORMAT  # earlier versions read 1


def test_a_resolve_journals_the_one_segment_it_wrote(path: Path) -> None:
    with TinyDBStore(path, segment_capacity=2) as one, TinyDBStore(path) as two:
        one.add_cases([make_new(str(n), mention_id=f"x:{n}") for n in range(1, 8)])
        for n in range(1, 7):
            case = one.get_case(str(n))
            one.save_case(moved(case, CaseState.RESOLVED), case.version, [make_event(case)])
        journal = journal_path(path, 1)
        last = json.loads(journal.read_bytes().splitlines()[-1].split(b" ", 1)[1])
        assert list(last["meta"]["segments"]) == ["3"]  # the third segment, not all three
        files = [s.file for s in one._segments]
        assert len(files) == 3
        assert [s.file for s in two._read(lambda: two._segments)] == files
        assert [c.id for c in two.list_cases(states=[CaseState.RESOLVED])] == [
            str(n) for n in range(6, 0, -1)
        ]
