"""Many cursors in one write (the poller saves every source's status at once)."""

from __future__ import annotations

from pathlib import Path

from triagebot.store.base import Store
from triagebot.store.tinydb_store import TinyDBStore


def test_set_cursors_sets_replaces_and_deletes_in_one_call(store: Store) -> None:
    store.set_cursor("x", "100")
    store.set_cursor("gone", "1")
    store.set_cursors({"x": "200", "rss": "etag-1", "gone": None, "never": None})  # type: ignore[attr-defined]
    assert [store.get_cursor(s) for s in ("x", "rss", "gone", "never")] == [
        "200",
        "etag-1",
        None,
        None,
    ]
    store.set_cursors({"x": "200", "rss": "etag-2"})  # type: ignore[attr-defined]
    assert (store.get_cursor("x"), store.get_cursor("rss")) == ("200", "etag-2")


def test_a_batch_of_cursors_is_on_disk_for_the_next_process(tmp_path: Path) -> None:
    store = TinyDBStore(tmp_path / "triagebot.json")
    store.set_cursor("warm", "0")
    store.set_cursors({f"source-{n}#status": f'{{"n": {n}}}' for n in range(12)})
    reopened = TinyDBStore(tmp_path / "triagebot.json")
    assert [reopened.get_cursor(f"source-{n}#status") for n in (0, 11)] == ['{"n": 0}', '{"n": 11}']
    assert reopened.get_cursor("warm") == "0"
    store.close()
    reopened.close()
