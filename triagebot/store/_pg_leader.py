"""Scheduler leadership across processes: a PostgreSQL session advisory lock.

The lock lives on one dedicated, direct connection (never a pooled one): PostgreSQL releases a
session lock when its session ends, so a leader that dies or loses its connection frees the
lock at once and a follower's next ``check`` takes it. This needs a real session: behind
PgBouncer in *transaction* pooling mode consecutive statements may run on different server
sessions, so the lock would neither hold nor be released reliably; point ``DATABASE_URL`` at
the database directly (Heroku Postgres does unless you add the pgbouncer buildpack).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

log = logging.getLogger(__name__)


class PgLeadership:
    """Holds (or tries to take) the advisory lock ``triagebot:<name>`` of the current schema."""

    def __init__(self, conninfo: str, name: str = "scheduler") -> None:
        self._conninfo = conninfo
        self._key = f"triagebot:{name}"
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._held

    def check(self) -> bool:
        """Confirm the lock is still held, or try to take it; True while this process leads.

        A broken connection loses the lock (the server freed it with the session); the next
        call reconnects and competes again. Never raises for database trouble.
        """
        with self._lock:
            try:
                conn = self._connection()
                if self._held:
                    conn.execute("SELECT 1")
                else:
                    row = conn.execute(
                        "SELECT pg_try_advisory_lock(hashtext(current_schema() || %s))",
                        (self._key,),
                    ).fetchone()
                    self._held = bool(row and row[0])
            except psycopg.Error as exc:
                if self._held:
                    log.warning("event=leader_lost reason=%s", type(exc).__name__)
                self._held = False
                self._drop()
            return self._held

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=5,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
            )
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        """Give up leadership (closing the session frees the lock)."""
        with self._lock:
            if self._held and self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.Error):
                    self._conn.execute(
                        "SELECT pg_advisory_unlock(hashtext(current_schema() || %s))",
                        (self._key,),
                    )
            self._held = False
            self._drop()

    def backend_pid(self) -> int | None:
        """The server process id of the lock's session (tests kill it to simulate a crash)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid
