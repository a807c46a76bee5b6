"""Public holiday tables, read from a small cache file instead of the ``holidays`` package.

Importing ``holidays`` loads a module per country (~80 ms), which a quick command such as
``triagebot claim`` should not pay. Each holiday calendar checked and each year of holidays
computed is kept in ``holidays-<stamp>.json`` under ``$TRIAGEBOT_CACHE_DIR`` (else
``$XDG_CACHE_HOME/triagebot``, else ``~/.cache/triagebot``); the stamp changes with the
installed ``holidays`` release, so an upgrade starts a new file. The package is imported only
for what the file does not hold yet. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from datetime import date
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The cache file's contents once read: {"table": {"checked": {...}, "years": {...}}}.
_state: dict[str, dict[str, Any]] = {}


def cache_dir() -> Path:
    explicit = os.environ.get("TRIAGEBOT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry: a cache that lives with the process
            base = tempfile.gettempdir()
    return Path(base) / "triagebot"


def package_stamp() -> str:
    """Size and mtime of the installed ``holidays`` package's version module (without
    importing it): changes with the release installed."""
    spec = find_spec("holidays")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        return "none"
    try:
        st = os.stat(Path(next(iter(locations))) / "version.py")
    except OSError:
        return "unknown"
    return f"{st.st_size}-{st.st_mtime_ns}"


def _path() -> Path:
    return cache_dir() / f"holidays-{package_stamp()}.json"


def _load() -> dict[str, Any]:
    if "table" not in _state:
        table: Any = None
        with contextlib.suppress(OSError, ValueError):  # a missing or damaged cache: rebuilt
            table = json.loads(_path().read_text(encoding="utf-8"))
        valid = isinstance(table, dict) and all(
            isinstance(table.get(k), dict) for k in ("checked", "years")
        )
        _state["table"] = table if valid else {"checked": {}, "years": {}}
    return _state["table"]


def _save() -> None:
    try:
        path = _path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_load()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("holiday cache not written: %s", exc)


def _key(country: str, subdiv: str | None) -> str:
    return f"{country}-{subdiv or ''}"


def reset() -> None:
    """Forget what this process read (tests; a changed cache directory)."""
    _state.clear()
    check_calendar.cache_clear()
    holidays_of.cache_clear()


@lru_cache(maxsize=64)
def check_calendar(country: str, subdiv: str | None) -> None:
    """Raise NotImplementedError for an unknown holiday calendar."""
    cache = _load()
    if cache["checked"].get(_key(country, subdiv)) is True:
        return
    import holidays  # noqa: PLC0415  (only for what the cache does not hold)

    holidays.country_holidays(country, subdiv=subdiv)
    cache["checked"][_key(country, subdiv)] = True
    _save()


@lru_cache(maxsize=256)
def holidays_of(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """Public holidays of one year (shared by the calendars of every department)."""
    cache = _load()
    key = f"{_key(country, subdiv)}-{year}"
    kept = cache["years"].get(key)
    if isinstance(kept, list):
        try:
            return frozenset(date.fromisoformat(d) for d in kept)
        except (TypeError, ValueError):
            pass
    import holidays  # noqa: PLC0415

    found = holidays.country_holidays(country, subdiv=subdiv, years=year)
    days = frozenset(d for d in found if d.year == year)
    cache["years"][key] = sorted(d.isoformat() for d in days)
    _save()
    return days
