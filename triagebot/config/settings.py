"""triagebot.toml and the environment, read once into validated ``Settings``.

Every problem is reported as one line naming the file and the field (``ConfigError``); secrets
come only from the environment and are kept as ``SecretStr``. The file's sections are modelled
in ``file``, the environment in ``environment``; their names are re-exported here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from triagebot.cases.identities import Identity
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.config.case_rules import CaseRules
from triagebot.config.environment import (
    SOURCE_CREDENTIALS,
    Environment,
    board_login,
    example_config_path,
    find_config_file,
    source_env,
)
from triagebot.config.file import (
    SOURCE_TYPES,
    BrandConfig,
    CalendarConfig,
    DepartmentConfig,
    EscalationConfig,
    FileConfig,
    ManagersConfig,
    PolicyConfig,
    SlaConfig,
    SourceConfig,
)
from triagebot.config.people import People
from triagebot.config.secret import SecretStr
from triagebot.config.toml_depth import MAX_DEPTH, too_deep
from triagebot.errors import ConfigError
from triagebot.paths import packaged_path
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import SlaPolicy

__all__ = [
    "SOURCE_CREDENTIALS",
    "SOURCE_TYPES",
    "BrandConfig",
    "CalendarConfig",
    "DepartmentConfig",
    "Environment",
    "EscalationConfig",
    "FileConfig",
    "ManagersConfig",
    "PolicyConfig",
    "Settings",
    "SlaConfig",
    "SourceConfig",
    "board_login",
    "example_config_path",
    "find_config_file",
    "load_settings",
    "parse_config_file",
]


@dataclass(frozen=True)
class Settings:
    """Validated configuration plus environment; what the rest of triagebot is given."""

    config: FileConfig
    env: Environment
    config_file: Path
    rules_dir: Path
    #: Source credentials (variable name -> value) for the names in SOURCE_CREDENTIALS and
    #: the sources' ``*_env`` keys, read once with the rest of the environment.
    source_env: Mapping[str, SecretStr] = field(default_factory=dict)

    @cached_property
    def departments(self) -> dict[str, DepartmentConfig]:
        result = {d.id: d for d in self.config.departments}
        result.setdefault(
            FALLBACK_DEPARTMENT, DepartmentConfig(id=FALLBACK_DEPARTMENT, name="Triage")
        )
        return result

    @cached_property
    def rules(self) -> CaseRules:
        """Calendars, SLA targets, reopen window and people (what quick commands read from
        the configuration cache without these models)."""
        return CaseRules.from_config(self.config)

    def calendar_for(self, department: str) -> BusinessCalendar:
        return self.rules.calendar_for(department)

    def sla_policy(self, priority: Priority, department: str) -> SlaPolicy:
        """The targets of ``priority`` in ``department``: its ``[departments.sla.P…]`` when
        set, else ``[sla.P…]``; an unset ``respond_within`` falls back to ``[sla.P…]``'s, then
        to the default of the priority (``DEFAULT_RESPOND_WITHIN``)."""
        return self.rules.sla_policy(priority, department)

    @property
    def people(self) -> People:
        """The people directory: ``[[people]]`` and the older ``[managers]`` lists."""
        return self.rules.people

    def is_manager(self, actor: Identity) -> bool:
        return self.rules.is_manager(actor)

    @property
    def reopen_within(self) -> timedelta:
        return self.rules.reopen_within


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    fallback_to_example: bool = False,
    data: bytes | None = None,
) -> Settings:
    """Read and validate the configuration; raises ConfigError listing every problem.
    ``data``: the contents of ``path``, already read."""
    env = Environment.read(environ)
    config_file = path or find_config_file(env, fallback_to_example=fallback_to_example)
    config = parse_config_file(config_file, data)
    rules_dir = env.rules_path or _rules_dir_beside(config_file)
    credentials = source_env(config, os.environ if environ is None else environ)
    return Settings(
        config=config, env=env, config_file=config_file, rules_dir=rules_dir, source_env=credentials
    )


def _rules_dir_beside(config_file: Path) -> Path:
    beside = config_file.parent / "rules"
    return beside if beside.is_dir() else packaged_path("rules")


def parse_config_file(path: Path, data: bytes | None = None) -> FileConfig:
    """The file validated (``data``: its contents, already read)."""
    name = str(path)
    try:
        if data is None:
            data = path.read_bytes()
        # as read_text would: UTF-8, universal newlines
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        if (deep := too_deep(text)) is not None:
            raise ConfigError(
                f"{name}:{deep.line}: {deep.field or 'value'}: nested more than "
                f"{MAX_DEPTH} levels deep"
            )
        raw = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(
            f"{name}: file not found (copy triagebot.example.toml to triagebot.toml, "
            "or set TRIAGEBOT_CONFIG)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(name, raw, exc)) from None


def _describe(name: str, raw: Mapping[str, Any], exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        field = _field_path(raw, error["loc"])
        message = _message(error)
        lines.append(f"{name}: {field}: {message}" if field else f"{name}: {message}")
    return lines


def _field_path(raw: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            item = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(item, dict) and isinstance(item.get("id") or item.get("name"), str):
                label += f" ({item.get('id') or item.get('name')})"
            parts.append(label)
            node = item
        else:
            if key.startswith("function-") or key in {"literal"}:
                continue
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling against triagebot.example.toml)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
