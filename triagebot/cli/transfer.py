"""``triagebot migrate-store``: move an embedded store's whole history to PostgreSQL.

Kept in its own module so that no other command imports psycopg or tinydb for it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from triagebot.errors import ConfigError, InputError
from triagebot.store import open_store


def cmd_migrate_store(args: argparse.Namespace) -> int:
    source = Path(args.source)
    if not source.is_file():
        raise InputError(
            f"{source}: no such store file (give the TinyDB file, e.g. data/triagebot.json)"
        )
    url = args.target or os.environ.get("DATABASE_URL", "").strip()
    if not url:
        raise ConfigError("migrate-store: --to: give the PostgreSQL URL or set DATABASE_URL")
    # The store modules are imported here: only this command needs both of them.
    from triagebot.store.postgres import PostgresStore  # noqa: PLC0415
    from triagebot.store.tinydb_store import TinyDBStore  # noqa: PLC0415
    from triagebot.store.transfer import copy_store  # noqa: PLC0415

    dst = open_store(None, url, dyno=os.environ.get("DYNO") or None)
    assert isinstance(dst, PostgresStore)
    try:
        with TinyDBStore(source) as src:
            counts = copy_store(
                src, dst, progress=lambda n: print(f"  {n} cases copied", file=sys.stderr)
            )
    finally:
        dst.close()
    print(f"copied and verified: {counts.describe()}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"migrate-store": cmd_migrate_store}
