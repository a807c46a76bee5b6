"""Code that runs in child processes of the concurrency and crash tests."""

from __future__ import annotations

import random
import sys
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from tests.store.builders import make_event, make_new, make_outbox, moved
from triagebot.cases.records import CaseState
from triagebot.errors import VersionConflict
from triagebot.store._engine import Engine
from triagebot.store.tinydb_store import TinyDBStore


def claimer(
    path: str,
    name: str,
    barrier: Barrier,
    tasks: Queue[str | None],
    results: Queue[tuple[str, ...]],
) -> None:
    """Claim every case id received, all workers at once; report won or lost."""
    store = TinyDBStore(Path(path))
    try:
        while (case_id := tasks.get()) is not None:
            case = store.get_case(case_id)
            claimed = moved(case, CaseState.CLAIMED, actor=name)
            barrier.wait()
            try:
                store.save_case(
                    claimed,
                    case.version,
                    [make_event(claimed, "claimed", actor=name)],
                    [make_outbox(f"claim-{case_id}-{name}", case_id)],
                )
            except VersionConflict:
                results.put((case_id, name, "lost"))
            else:
                results.put((case_id, name, "won"))
    finally:
        store.close()


def adder(
    path: str, name: str, barrier: Barrier, mention_ids: list[str], results: Queue[tuple[str, ...]]
) -> None:
    """Add one case per mention id (ids from the shared counter), all workers at once."""
    store = TinyDBStore(Path(path))
    try:
        barrier.wait()
        for mention_id in mention_ids:
            (case_id,) = store.next_case_ids(1)
            (added,) = store.add_cases([make_new(case_id, mention_id=mention_id)])
            results.put((name, case_id, mention_id, str(added)))
    finally:
        store.close()


_NEXT = {
    CaseState.NEW: [CaseState.OPEN, CaseState.CLAIMED],
    CaseState.OPEN: [CaseState.CLAIMED],
    CaseState.CLAIMED: [CaseState.RESOLVED, CaseState.RESOLVED, CaseState.SPAM, CaseState.OPEN],
    CaseState.RESOLVED: [CaseState.OPEN],
    CaseState.SPAM: [CaseState.OPEN],
}


def crash_writer(path: str, seed: int) -> None:
    """Change the store forever; print ``try <case id> <version> <state>`` before each change
    and ``<case id> <version> <state>`` once it is acknowledged.

    The journal is compacted every few dozen writes (a small threshold), so kills also land
    in compactions."""
    rng = random.Random(seed)
    store = TinyDBStore(Path(path), segment_capacity=5, gc_grace=0, compact_bytes=64 << 10)
    known = [c.id for c in store.list_cases()]
    text = "a long complaint " * 100  # a root of some size makes each write take a while
    print("ready", flush=True)
    while True:
        if len(known) < 60 or rng.random() < 0.2:
            ids = store.next_case_ids(rng.randint(1, 3))
            for case_id in ids:
                print("try", case_id, 1, CaseState.NEW.value, flush=True)
            store.add_cases([make_new(i, mention_id=f"crash:{seed}:{i}", text=text) for i in ids])
            for case_id in ids:
                print(case_id, 1, CaseState.NEW.value, flush=True)
            known += ids
            continue
        case = store.get_case(rng.choice(known))
        if case.state.is_closed and rng.random() < 0.7:
            continue  # reopen rarely
        nxt = moved(case, rng.choice(_NEXT[case.state]), actor=f"w{seed}")
        print("try", nxt.id, nxt.version, nxt.state.value, flush=True)
        store.save_case(nxt, case.version, [make_event(nxt, nxt.state.value)])
        print(nxt.id, nxt.version, nxt.state.value, flush=True)


def compactor(path: str) -> None:
    """Compact the store over and over (as the child process a writer starts does); print
    ``compacted`` after each compaction that wrote a snapshot."""
    print("ready", flush=True)
    while True:
        with Engine(Path(path)) as engine:
            if engine.compact():
                print("compacted", flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "compactor":
        compactor(sys.argv[1])
    else:
        crash_writer(sys.argv[1], int(sys.argv[2]))
