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

from pydantic import (
    SecretStr,
    ValidationError,
)

from triagebot.cases.identities import Identity
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.config.environment import (
    SOURCE_CREDENTIALS,
    Environment,
    board_login,
    source_env,
)
from triagebot.config.file import (
    DEFAULT_RESPOND_WITHIN,
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
    department_calendar,
)
from triagebot.config.people import People
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
    def _calendars(self) -> dict[str, BusinessCalendar]:
        return {
            dept_id: department_calendar(self.config.calendar, dept)
            for dept_id, dept in self.departments.items()
        }

    def calendar_for(self, department: str) -> BusinessCalendar:
        return self._calendars.get(department) or self._calendars[FALLBACK_DEPARTMENT]

    def sla_policy(self, priority: Priority, department: str) -> SlaPolicy:
        """The targets of ``priority`` in ``department``: its ``[departments.sla.P…]`` when
        set, else ``[sla.P…]``; an unset ``respond_within`` falls back to ``[sla.P…]``'s, then
        to the default of the priority (``DEFAULT_RESPOND_WITHIN``)."""
        dept = self.departments.get(department)
        general = self.config.sla.policy(priority)
        chosen = (dept.sla.get(priority) if dept else None) or general
        reminder = chosen.reminder_at or self.config.sla.reminder_at
        respond = (
            chosen.respond_within or general.respond_within or DEFAULT_RESPOND_WITHIN[priority]
        )
        return SlaPolicy(chosen.claim_within, chosen.resolve_within, reminder, respond)

    @cached_property
    def people(self) -> People:
        """The people directory: ``[[people]]`` and the older ``[managers]`` lists."""
        managers = self.config.managers
        return People.from_config(self.config.people, managers.names, managers.slack,
                                  managers.teams)  # fmt: skip

    def is_manager(self, actor: Identity) -> bool:
        return self.people.is_manager(actor)

    @property
    def reopen_within(self) -> timedelta:
        return self.config.sla.reopen_within


def example_config_path() -> Path:
    """The complete, commented example configuration shipped with triagebot."""
    return packaged_path("triagebot.example.toml")


def find_config_file(env: Environment, *, fallback_to_example: bool) -> Path:
    """TRIAGEBOT_CONFIG, else ./triagebot.toml, else (if allowed) the shipped example."""
    if env.config_path is not None:
        return env.config_path
    local = Path("triagebot.toml")
    if local.exists() or not fallback_to_example:
        return local
    return example_config_path()


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    fallback_to_example: bool = False,
) -> Settings:
    """Read and validate the configuration; raises ConfigError listing every problem."""
    env = Environment.read(environ)
    config_file = path or find_config_file(env, fallback_to_example=fallback_to_example)
    config = parse_config_file(config_file)
    rules_dir = env.rules_path or _rules_dir_beside(config_file)
    credentials = source_env(config, os.environ if environ is None else environ)
    return Settings(
        config=config, env=env, config_file=config_file, rules_dir=rules_dir, source_env=credentials
    )


def _rules_dir_beside(config_file: Path) -> Path:
    beside = config_file.parent / "rules"
    return beside if beside.is_dir() else packaged_path("rules")


def parse_config_file(path: Path) -> FileConfig:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
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
