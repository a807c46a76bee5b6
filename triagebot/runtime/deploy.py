"""Running on a platform such as Heroku: which store to open, and log lines for log drains.

On a dyno (``DYNO`` is set) the disk is wiped on every restart and is not shared between
dynos, so the embedded store would silently lose every case and SLA timer: triagebot refuses
to start on it there unless ``TRIAGEBOT_ALLOW_EPHEMERAL=1`` says that is intended (a demo).
Logs are one line per event, ``key=value`` with the message last, on stdout, and never hold
``DATABASE_URL`` or tokens.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from triagebot.config.environment import Environment
from triagebot.errors import ConfigError
from triagebot.store import open_store
from triagebot.store.base import Store


def check_durable(env: Environment) -> None:
    """Raise ``ConfigError`` when a dyno would keep its cases on its ephemeral disk."""
    if env.dyno and not env.database_url and not env.allow_ephemeral:
        raise ConfigError(
            f"environment: DATABASE_URL: not set on dyno {env.dyno}: the embedded store "
            "would live on the dyno's disk, which Heroku wipes on every restart and deploy "
            "(at least daily) and which other dynos cannot see, so cases and SLA timers "
            "would be lost; add Heroku Postgres (heroku addons:create heroku-postgresql) or "
            "set TRIAGEBOT_ALLOW_EPHEMERAL=1 to accept that"
        )


def open_configured_store(env: Environment, *, migrating: bool = False) -> Store:
    """The store the environment names (PostgreSQL when DATABASE_URL is set, else TinyDB)."""
    check_durable(env)
    url = env.database_url.get_secret_value() if env.database_url else None
    return open_store(env.db_path, url, dyno=env.dyno, migrating=migrating)


def store_label(env: Environment) -> str:
    """Where the store is, fit for a log line (never the URL: it holds the password)."""
    return "postgresql (DATABASE_URL)" if env.database_url else f"tinydb {env.db_path}"


class OneLineFormatter(logging.Formatter):
    """``at=… level=… logger=… msg="…"``; a traceback is folded into the same line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += " exc=" + self.formatException(record.exc_info)
        quoted = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return f'at={at} level={record.levelname.lower()} logger={record.name} msg="{quoted}"'


def log_to_stdout(level: int = logging.INFO) -> None:
    """Route every log record to stdout, one line each (what Heroku's router collects)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Request lines can carry API keys in query strings: never log them.
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
