"""The configuration of a quick command (``claim``, ``resolve``, ``sla``…) without pydantic.

Validating triagebot.toml builds the pydantic models, which takes longer than the rest of a
claim. Once a file has been validated, the ``CaseRules`` it gives are kept in
``config-<version>-<sha256>.json`` under the cache directory of the holiday tables
(``$TRIAGEBOT_CACHE_DIR``, else ``$XDG_CACHE_HOME/triagebot``, else ``~/.cache/triagebot``),
the hash taken of the file's contents, of the code that reads them (``RULES_CODE``) and of the
``holidays`` release. The next run of a quick command finds them by that hash and reads that
form instead. A changed file, another triagebot version, changed code or another ``holidays``
release misses the cache, so the file is validated again, with the same one-line errors naming
the file and field. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from triagebot import __version__
from triagebot.config.case_rules import FORMAT, CaseRules
from triagebot.config.environment import Environment, find_config_file
from triagebot.sla.holiday_tables import cache_dir, package_stamp

log = logging.getLogger(__name__)


class QuickSettings:
    """The environment, the configuration file's path and its ``CaseRules``."""

    def __init__(self, env: Environment, config_file: Path, rules: CaseRules) -> None:
        self.env = env
        self.config_file = config_file
        self.rules = rules


#: The modules whose code turns triagebot.toml into ``CaseRules`` (defaults, parsing,
#: validation): a change to any of them (an upgrade, an edited checkout) misses the cache.
RULES_CODE = (
    "config/file.py",
    "config/case_rules.py",
    "config/people.py",
    "config/routing.py",
    "config/settings.py",
    "durations.py",
    "sla/calendar.py",
    "sla/clocks.py",
    "cases/identities.py",
    "cases/records.py",
)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def code_stamp() -> str:
    """Sizes and modification times of the ``RULES_CODE`` modules (no import, no read)."""
    parts = []
    for name in RULES_CODE:
        try:
            st = os.stat(os.path.join(_PACKAGE, name))
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return ",".join(parts)


def cache_path(data: bytes) -> Path:
    """Where the rules of a configuration file with contents ``data`` are kept: named by the
    hash of the contents, of the code that reads them and of the ``holidays`` release."""
    key = hashlib.sha256(data)
    key.update(f"\0{FORMAT}\0{code_stamp()}\0{package_stamp()}".encode())
    return cache_dir() / f"config-{__version__}-{key.hexdigest()}.json"


def load_quick_settings(
    environ: Mapping[str, str] | None = None, *, fallback_to_example: bool = False
) -> QuickSettings:
    """The configuration's rules from the cache, else validated (and then cached); raises
    ``ConfigError`` as ``load_settings`` does."""
    env = Environment.read(environ)
    config_file = find_config_file(env, fallback_to_example=fallback_to_example)
    try:
        data = config_file.read_bytes()
    except OSError:
        data = None  # load_settings says what is wrong with the file
    path = cache_path(data) if data is not None else None
    rules = _read(path) if path is not None else None
    if rules is None:
        from triagebot.config.settings import load_settings  # noqa: PLC0415 (pydantic)

        rules = load_settings(config_file, environ, data=data).rules
        if path is not None:
            _write(path, rules)
    return QuickSettings(env, config_file, rules)


def _read(path: Path) -> CaseRules | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        return CaseRules.from_json(json.loads(path.read_text(encoding="utf-8")))
    return None


def _write(path: Path, rules: CaseRules) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rules.to_json()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("configuration cache not written: %s", exc)
