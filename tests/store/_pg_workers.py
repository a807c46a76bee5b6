"""Code that runs in child processes of the PostgreSQL concurrency and leadership tests."""

from __future__ import annotations

import sys
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from tests.store.builders import make_event, make_outbox, moved
from triagebot.cases.records import CaseState
from triagebot.errors import VersionConflict
from triagebot.store.postgres import PostgresStore


def claimers(
    where: tuple[str, str],
    names: list[str],
    barrier: Barrier,
    case_ids: list[str],
    *,
    results: Queue[tuple[str, str, str]],
) -> None:
    """One thread and one connection per name; all claim each case at the same moment."""
    url, schema = where
    stores = [PostgresStore(url, schema=schema, pool_size=1) for _ in names]

    def run(store: PostgresStore, name: str) -> None:
        for case_id in case_ids:
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

    threads = [threading.Thread(target=run, args=pair) for pair in zip(stores, names, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()


def leader(url: str, schema: str) -> None:
    """Print ``leader`` or ``follower`` whenever that changes, checking every 0.2 s."""
    store = PostgresStore(url, schema=schema, pool_size=1)
    lock = store.leadership()
    last = None
    while True:
        now = "leader" if lock.check() else "follower"
        if now != last:
            print(now, lock.backend_pid(), flush=True)
            last = now
        time.sleep(0.2)


if __name__ == "__main__":
    leader(sys.argv[1], sys.argv[2])
