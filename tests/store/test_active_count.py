"""The count of active cases a store keeps as cases change (what ``/healthz`` reports) stays
equal to a full recount, whatever the change and whoever reads it."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from tests.store.builders import make_case, make_new, moved
from tests.store.conftest import Opener
from tests.store.pg_helpers import needs_postgres, throwaway_schema
from triagebot.cases.records import ACTIVE_STATES, Case, CaseState, NewCase
from triagebot.errors import VersionConflict
from triagebot.store import _engine
from triagebot.store.base import CaseChange, Store
from triagebot.store.tinydb_store import TinyDBStore


def _recount(store: Store) -> int:
    return len(store.list_cases(states=ACTIVE_STATES))


def _check(*stores: Store) -> int:
    counts = {store.active_count() for store in stores}
    assert counts == {_recount(stores[0])}, counts
    return counts.pop()


def test_the_count_follows_ingest_claim_resolve_spam_reopen_and_delivery(
    open_store: Opener,
) -> None:
    store, other = open_store(), open_store()  # other: a second process (or connection)
    assert store.active_count() == 0
    spam = make_case("3", state=CaseState.SPAM)
    added = store.add_cases(
        [
            make_new("1"),
            make_new("2", state=CaseState.OPEN),
            NewCase(spam),
            make_new("4", state=CaseState.CLAIMED, claimed_by="ana"),
        ]
    )
    assert added == [True] * 4
    assert _check(store, other) == 3
    assert store.add_cases([make_new("9", mention_id="x:1")]) == [False]  # a known mention
    assert _check(store, other) == 3

    one = store.get_case("1")
    claimed = moved(one, CaseState.CLAIMED)
    store.save_case(claimed, one.version)
    assert _check(store, other) == 3  # active to active
    resolved = moved(claimed, CaseState.RESOLVED)
    store.save_case(resolved, claimed.version)
    assert _check(store, other) == 2
    two = store.get_case("2")
    store.save_case(moved(two, CaseState.SPAM), two.version)
    assert _check(store, other) == 1
    with pytest.raises(VersionConflict):  # a lost compare-and-set changes nothing
        store.save_case(moved(claimed, CaseState.OPEN), claimed.version)
    assert _check(store, other) == 1
    reopened = moved(resolved, CaseState.OPEN)
    store.save_case(reopened, resolved.version)
    assert _check(store, other) == 2
    unspammed = moved(spam, CaseState.NEW)
    other.save_case(unspammed, spam.version)  # written by the other one
    assert _check(store, other) == 3
    # The write that finishes a delivered item changes its case too.
    store.finish_delivery("post-1", "1", change=CaseChange(moved(reopened, CaseState.CLAIMED), 4))
    assert _check(store, other) == 3
    store.finish_delivery("post-3", "3", change=CaseChange(moved(unspammed, CaseState.SPAM), 2))
    assert _check(store, other) == 2


@needs_postgres
def test_postgres_counts_survive_deletes_folds_and_concurrent_writers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    psycopg = pytest.importorskip("psycopg")
    from triagebot.store import postgres  # noqa: PLC0415

    monkeypatch.setattr(postgres, "FOLD_COUNTS_AT", 3)  # fold at nearly every read
    with (
        throwaway_schema() as (url, schema),
        postgres.PostgresStore(url, schema=schema, pool_size=6) as store,
    ):
        cases = [make_case(str(n), state=CaseState.OPEN) for n in range(1, 41)]
        store.add_cases([NewCase(c) for c in cases])
        assert _check(store) == 40
        with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
            conn.execute("DELETE FROM cases WHERE id IN ('39', '40')")  # by hand
        assert _check(store) == 38

        stop = threading.Event()
        failures: list[BaseException] = []

        def flip(mine: list[Case]) -> None:  # each writer closes and reopens its cases
            try:
                for _ in range(3):
                    for i, case in enumerate(mine):
                        state = (
                            CaseState.RESOLVED if case.state is CaseState.OPEN else CaseState.OPEN
                        )
                        mine[i] = moved(case, state)
                        store.save_case(mine[i], case.version)
            except BaseException as exc:
                failures.append(exc)

        def read() -> None:  # health refreshes, each folding the rows added meanwhile
            try:
                while not stop.is_set():
                    store.active_count()
            except BaseException as exc:
                failures.append(exc)

        groups = [cases[n:38:4] for n in range(4)]
        writers = [threading.Thread(target=flip, args=(g,)) for g in groups]
        readers = [threading.Thread(target=read) for _ in range(2)]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        for thread in readers:
            thread.join()
        assert failures == []
        assert _check(store) == 0  # three flips each: every case resolved
        store.active_count()
        with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
            rows = conn.execute("SELECT count(*) FROM case_counts").fetchone()
        assert rows is not None and rows[0] <= 3  # folded: a row a state


def test_the_embedded_store_takes_its_documents_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full collection walking every active case paused the serving process for longer
    than ``/healthz`` may take; past ``FREEZE_AT`` documents the store freezes them."""
    monkeypatch.setattr(_engine, "FREEZE_AT", 10)
    gc.unfreeze()
    try:
        with TinyDBStore(tmp_path / "db.json") as store:
            store.add_cases([make_new(str(n)) for n in range(1, 5)])
            assert gc.get_freeze_count() == 0  # 8 documents: 4 cases, 4 outbox items
            store.add_cases([make_new(str(n)) for n in range(5, 7)])
            assert gc.get_freeze_count() > 0
            gc.unfreeze()
            store.list_cases()  # listing keeps nothing alive: not counted
            for n in range(1, 7):  # 6 documents written ...
                case = store.get_case(str(n))
                store.save_case(moved(case, CaseState.OPEN), case.version)
            for n in range(1, 4):  # ... 9 ...
                case = store.get_case(str(n))
                store.save_case(moved(case, CaseState.CLAIMED), case.version)
            assert gc.get_freeze_count() == 0
            case = store.get_case("4")  # ... and the tenth
            store.save_case(moved(case, CaseState.CLAIMED), case.version)
            assert gc.get_freeze_count() > 0
            assert _check(store) == 6
    finally:
        gc.unfreeze()
