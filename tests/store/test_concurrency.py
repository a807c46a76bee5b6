"""Several processes write one TinyDB store at the same moment."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.store import _workers
from tests.store._files import read_root
from tests.store.builders import make_new, moved
from triagebot.cases.identities import SYSTEM, Identity
from triagebot.cases.records import CaseState
from triagebot.errors import VersionConflict
from triagebot.store.tinydb_store import TinyDBStore

pytestmark = pytest.mark.slow

WORKERS = 3
ROUNDS = 30
TIMEOUT = 60


def test_exactly_one_claim_wins(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    with TinyDBStore(path) as store:
        store.add_cases([make_new(str(n)) for n in range(1, ROUNDS + 1)])
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS, timeout=TIMEOUT)
    results = ctx.Queue()
    tasks = [ctx.Queue() for _ in range(WORKERS)]
    procs = [
        ctx.Process(target=_workers.claimer, args=(str(path), f"w{n}", barrier, tasks[n], results))
        for n in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    try:
        winners = {}
        for n in range(1, ROUNDS + 1):
            for queue in tasks:
                queue.put(str(n))
            outcome = [results.get(timeout=TIMEOUT) for _ in range(WORKERS)]
            assert sorted(r[2] for r in outcome) == ["lost"] * (WORKERS - 1) + ["won"]
            winners[str(n)] = next(r[1] for r in outcome if r[2] == "won")
    finally:
        for queue in tasks:
            queue.put(None)
        for proc in procs:
            proc.join(TIMEOUT)
    assert all(proc.exitcode == 0 for proc in procs)

    read_root(path)
    with TinyDBStore(path) as store:
        for case_id, winner in winners.items():
            case = store.get_case(case_id)
            assert (case.state, case.claimed_by, case.version) == (
                CaseState.CLAIMED,
                Identity("cli", winner),
                2,
            )
            assert [e.actor for e in store.events(case_id)] == [SYSTEM, Identity("cli", winner)]
        assert store.pending_outbox() == 2 * ROUNDS  # one post and one winning claim each


def test_concurrent_adds_dedupe_and_never_reuse_ids(tmp_path: Path) -> None:
    path = tmp_path / "data" / "triagebot.json"
    mentions = [f"x:{n}" for n in range(40)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS, timeout=TIMEOUT)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_workers.adder, args=(str(path), f"w{n}", barrier, mentions, results))
        for n in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcome = [results.get(timeout=TIMEOUT) for _ in range(WORKERS * len(mentions))]
    for proc in procs:
        proc.join(TIMEOUT)
    assert all(proc.exitcode == 0 for proc in procs)

    case_ids = [r[1] for r in outcome]
    assert len(set(case_ids)) == len(case_ids)
    added = Counter(r[2] for r in outcome if r[3] == "True")
    assert added == Counter(mentions)
    with TinyDBStore(path) as store:
        stored = store.list_cases()
        assert sorted(c.mention.id for c in stored) == sorted(mentions)
        assert {c.id for c in stored} == {r[1] for r in outcome if r[3] == "True"}


@pytest.mark.parametrize("shared", [True, False], ids=["one-instance", "instance-per-thread"])
def test_threads_claim_each_case_once(tmp_path: Path, shared: bool) -> None:
    path = tmp_path / "data" / "triagebot.json"
    first = TinyDBStore(path, segment_capacity=3)
    first.add_cases([make_new(str(n)) for n in range(1, 21)])
    stores = [first if shared else TinyDBStore(path, segment_capacity=3) for _ in range(4)]
    wins: list[tuple[str, str]] = []
    barrier = threading.Barrier(len(stores))

    def work(store: TinyDBStore, name: str) -> None:
        barrier.wait()
        for n in range(1, 21):
            case = store.get_case(str(n))
            if case.state is not CaseState.NEW:
                continue
            state = CaseState.RESOLVED if n % 2 else CaseState.CLAIMED
            try:
                store.save_case(moved(case, state, actor=name), case.version)
            except VersionConflict:
                continue
            wins.append((str(n), name))
            (case_id,) = store.next_case_ids(1)
            store.add_cases([make_new(case_id, mention_id=f"t:{case_id}")])

    threads = [threading.Thread(target=work, args=(s, f"t{i}")) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert sorted(int(n) for n, _ in wins) == list(range(1, 21))
    with TinyDBStore(path) as store:
        for case_id, name in wins:
            case = store.get_case(case_id)
            assert (case.version, case.claimed_by or case.resolved_by) == (2, Identity("cli", name))
        assert len(store.list_cases()) == 40
    for store in {id(s): s for s in stores}.values():
        store.close()
