"""triagebot.toml and the environment, read once into validated ``Settings``.

Every problem is reported as one line naming the file and the field (``ConfigError``); secrets
come only from the environment and are kept as ``SecretStr``. Nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from triagebot.cases.identities import Identity
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.config.people import People, PersonConfig, people_problems
from triagebot.config.routing import RoutingConfig
from triagebot.config.toml_depth import MAX_DEPTH, too_deep
from triagebot.durations import Span, parse_duration, parse_span
from triagebot.errors import ConfigError
from triagebot.paths import packaged_path
from triagebot.sla.calendar import BusinessCalendar, WeeklyHours
from triagebot.sla.clocks import SlaPolicy

SOURCE_TYPES = (
    "rss",
    "reddit",
    "hackernews",
    "mastodon",
    "bluesky",
    "x",
    "appstore",
    "stackexchange",
)
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(str(value))


def _positive_span(value: Any) -> Span:
    if isinstance(value, Span):
        return value
    span = parse_span(str(value))
    if span.days <= 0 and span.seconds <= 0:
        raise ValueError("must be more than zero")
    return span


Duration = Annotated[timedelta, BeforeValidator(_duration)]
PositiveSpan = Annotated[Span, BeforeValidator(_positive_span)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class BrandConfig(_Strict):
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    handles: list[str] = []
    exclude: list[str] = []


def _check_timezone(value: str | None) -> str | None:
    if value is not None:
        BusinessCalendar(value, "24/7")
    return value


def _check_hours(value: str | None) -> str | None:
    if value is not None:
        WeeklyHours.parse(value)
    return value


def _check_holidays(value: str | None) -> str | None:
    if value is not None:
        BusinessCalendar("UTC", "24/7", value)
    return value


def _check_clock_time(value: str | None) -> str | None:
    if value is not None and not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
        raise ValueError(f"{value!r} is not a time of day: write HH:MM, e.g. '08:30'")
    return value


TimeZone = Annotated[str, AfterValidator(_check_timezone)]
ClockTime = Annotated[str, AfterValidator(_check_clock_time)]
Hours = Annotated[str, AfterValidator(_check_hours)]
Holidays = Annotated[str, AfterValidator(_check_holidays)]


class CalendarConfig(_Strict):
    timezone: TimeZone = "UTC"
    hours: Hours = "Mon-Fri 09:00-17:00"
    holidays: Holidays | None = None


class PolicyConfig(_Strict):
    claim_within: PositiveSpan
    resolve_within: PositiveSpan
    reminder_at: float | None = Field(default=None, gt=0, lt=1)


class DepartmentConfig(_Strict):
    id: str
    name: str = ""
    slack_channel: str | None = None
    teams_channel: str | None = None
    timezone: TimeZone | None = None
    hours: Hours | None = None
    holidays: Holidays | None = None
    sla: dict[Priority, PolicyConfig] = {}
    # SLA watcher and digest (each falls back to the [sla] value when unset).
    manager: str | None = None  # named in breach posts (a --by name or a Slack/Teams user id)
    oncall_slack_group: str | None = None  # Slack user group id mentioned at the reminder
    oncall_teams: str | None = None  # Teams tag or user id mentioned at the reminder
    note_at: float | None = Field(default=None, gt=0, lt=1)
    idle_release: Duration | None = None
    digest_at: ClockTime | None = None

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"{value!r} is not a valid id: lower-case letters, digits, '-' or '_', "
                "starting with a letter"
            )
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id.replace("_", " ").replace("-", " ").title()


_DEFAULT_POLICIES = {
    Priority.P1: PolicyConfig(
        claim_within=Span(seconds=900), resolve_within=Span(seconds=4 * 3600)
    ),
    Priority.P2: PolicyConfig(claim_within=Span(seconds=3600), resolve_within=Span(days=1)),
    Priority.P3: PolicyConfig(claim_within=Span(seconds=4 * 3600), resolve_within=Span(days=3)),
}


class SlaConfig(_Strict):
    reminder_at: float = Field(default=0.75, gt=0, lt=1)
    reopen_within: Duration = timedelta(days=7)
    default_priority: Priority = Priority.P2
    note_at: float = Field(default=0.5, gt=0, lt=1)  # note to the claimer at this fraction
    idle_release: Duration | None = None  # release a claim idle this long (business time)
    digest_at: ClockTime | None = None  # local time of the daily digest; None: no digest
    P1: PolicyConfig = _DEFAULT_POLICIES[Priority.P1]
    P2: PolicyConfig = _DEFAULT_POLICIES[Priority.P2]
    P3: PolicyConfig = _DEFAULT_POLICIES[Priority.P3]

    def policy(self, priority: Priority) -> PolicyConfig:
        result: PolicyConfig = getattr(self, priority.value)
        return result


class SourceConfig(BaseModel):
    """One mention source; keys beyond these belong to the source's adapter."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    type: Literal[
        "rss",
        "reddit",
        "hackernews",
        "mastodon",
        "bluesky",
        "x",
        "appstore",
        "stackexchange",
        "googleplay",
        "discourse",
        "facebook",
        "instagram",
    ]
    base_url: str | None = None
    query: str | None = None
    interval: Duration = timedelta(minutes=1)
    enabled: bool = True
    backfill: Duration = timedelta(hours=1)  # how far back the very first poll imports

    def credential_variables(self) -> list[str]:
        """Names of the environment variables this source's ``*_env`` keys point at."""
        extra = self.model_extra or {}
        return [str(v) for k, v in extra.items() if k.endswith("_env") and isinstance(v, str) and v]

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"{value!r} is not a valid source name (lower-case letters, digits, - or _)"
            )
        return value

    @field_validator("interval")
    @classmethod
    def _interval_is_sane(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=10):
            raise ValueError("must be at least 10s: sources rate-limit fast pollers")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class EscalationConfig(_Strict):
    slack_channel: str | None = None
    teams_channel: str | None = None


class ManagersConfig(_Strict):
    # The older way to name managers (``manager = true`` in [[people]] lists them once):
    names: list[str] = []  # --by names and board logins
    slack: list[str] = []  # Slack user ids
    teams: list[str] = []  # Teams AAD object ids
    slack_channel: str | None = None  # the daily digest (default: the escalation channel)
    teams_channel: str | None = None
    sla_command_managers_only: bool = False  # /sla answers only the managers


class FileConfig(_Strict):
    """The whole of triagebot.toml."""

    brand: BrandConfig
    calendar: CalendarConfig = CalendarConfig()
    departments: list[DepartmentConfig] = Field(min_length=1)
    sla: SlaConfig = SlaConfig()
    sources: list[SourceConfig] = []
    escalation: EscalationConfig = EscalationConfig()
    routing: RoutingConfig = RoutingConfig()
    managers: ManagersConfig = ManagersConfig()
    people: list[PersonConfig] = []

    @model_validator(mode="after")
    def _unique_names(self) -> FileConfig:
        problems = _duplicates("departments", [d.id for d in self.departments])
        problems += _duplicates("sources", [s.name for s in self.sources])
        problems += people_problems(self.people)
        for key in ("names", "slack", "teams"):
            for i, value in enumerate(getattr(self.managers, key)):
                try:
                    Identity("cli" if key == "names" else key, value)
                except ValueError as exc:
                    problems.append(f"managers.{key}[{i}]: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _duplicates(section: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{section}[{i}]: {name!r} is listed twice")
        seen.add(name)
    return problems


def _department_calendar(default: CalendarConfig, dept: DepartmentConfig) -> BusinessCalendar:
    return BusinessCalendar(
        dept.timezone or default.timezone,
        WeeklyHours.parse(dept.hours or default.hours),
        dept.holidays if dept.holidays is not None else default.holidays,
    )


@dataclass(frozen=True)
class Environment:
    """The environment variables triagebot reads, read once."""

    database_url: SecretStr | None = None
    db_path: Path = Path("data/triagebot.json")
    port: int = 3000
    dyno: str | None = None
    allow_ephemeral: bool = False
    #: False (TRIAGEBOT_RUN_JOBS=0) keeps this process out of the scheduled jobs for good.
    run_jobs: bool = True
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    microsoft_app_id: str | None = None
    microsoft_app_password: SecretStr | None = None
    microsoft_app_tenant_id: str | None = None
    #: TRIAGEBOT_TEAMS=1: serve Teams without MICROSOFT_APP_ID (local mode, for the playground).
    teams_local: bool = False
    config_path: Path | None = None
    rules_path: Path | None = None
    #: The web board (integrations/board): users as name -> password hash, buttons, signing key.
    board_users: Mapping[str, str] = field(default_factory=dict)
    board_write: bool = False
    board_secret: SecretStr | None = None
    board_off: bool = False

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def secret(name: str) -> SecretStr | None:
            value = text(name)
            return SecretStr(value) if value else None

        port_text = text("PORT") or "3000"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"environment: PORT: {port_text!r} is not a TCP port number")
        return cls(
            database_url=secret("DATABASE_URL"),
            db_path=Path(text("TRIAGEBOT_DB") or "data/triagebot.json"),
            port=int(port_text),
            dyno=text("DYNO"),
            allow_ephemeral=text("TRIAGEBOT_ALLOW_EPHEMERAL") in {"1", "true", "yes"},
            run_jobs=text("TRIAGEBOT_RUN_JOBS") not in {"0", "false", "no"},
            slack_bot_token=secret("SLACK_BOT_TOKEN"),
            slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
            slack_app_token=secret("SLACK_APP_TOKEN"),
            slack_api_url=text("SLACK_API_URL"),
            microsoft_app_id=text("MICROSOFT_APP_ID"),
            microsoft_app_password=secret("MICROSOFT_APP_PASSWORD"),
            microsoft_app_tenant_id=text("MICROSOFT_APP_TENANT_ID"),
            teams_local=text("TRIAGEBOT_TEAMS") in {"1", "true", "yes"},
            config_path=Path(p) if (p := text("TRIAGEBOT_CONFIG")) else None,
            rules_path=Path(p) if (p := text("TRIAGEBOT_RULES")) else None,
            board_users=_board_users(text("TRIAGEBOT_BOARD_USERS")),
            board_write=_flag("TRIAGEBOT_BOARD_WRITE", text("TRIAGEBOT_BOARD_WRITE")),
            board_secret=secret("TRIAGEBOT_BOARD_SECRET"),
            board_off=text("TRIAGEBOT_BOARD") in {"0", "off", "false", "no"},
        )


def _flag(name: str, value: str | None) -> bool:
    if value is None or value.lower() in {"0", "false", "no", "off"}:
        return False
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    raise ConfigError(f"environment: {name}: {value!r} is not one of 1, true, yes, 0, false, no")


def board_login(name: str) -> str:
    """A board login as the login form compares it (trimmed, lower case); ValueError if the
    name cannot be one (``TRIAGEBOT_BOARD_USERS`` would refuse it)."""
    login = name.strip().lower()
    if not _ID.match(login):
        raise ValueError(
            f"{name[:60]!r} cannot be a board login: a letter, then letters, digits, - or _ "
            "(at most 40)"
        )
    return login


def _board_users(value: str | None) -> dict[str, str]:
    """``name:hash,name:hash`` (hashes from ``triagebot board hash-password``)."""
    users: dict[str, str] = {}
    for entry in (value or "").split(","):
        name, _, hashed = entry.strip().partition(":")
        if not entry.strip():
            continue
        if not _ID.match(name) or not hashed.startswith("scrypt$"):
            raise ConfigError(
                f"environment: TRIAGEBOT_BOARD_USERS: {name or entry.strip()[:20]!r}: write "
                "name:hash pairs separated by commas, names in lower case, hashes from "
                "`triagebot board hash-password`"
            )
        users[name] = hashed
    return users


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
            dept_id: _department_calendar(self.config.calendar, dept)
            for dept_id, dept in self.departments.items()
        }

    def calendar_for(self, department: str) -> BusinessCalendar:
        return self._calendars.get(department) or self._calendars[FALLBACK_DEPARTMENT]

    def sla_policy(self, priority: Priority, department: str) -> SlaPolicy:
        dept = self.departments.get(department)
        chosen = (dept.sla.get(priority) if dept else None) or self.config.sla.policy(priority)
        reminder = chosen.reminder_at or self.config.sla.reminder_at
        return SlaPolicy(chosen.claim_within, chosen.resolve_within, reminder)

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
    source_env = _source_env(config, os.environ if environ is None else environ)
    return Settings(
        config=config, env=env, config_file=config_file, rules_dir=rules_dir, source_env=source_env
    )


#: Credential variables the source adapters read when a source names none of its own.
SOURCE_CREDENTIALS = (
    "X_BEARER_TOKEN",
    "MASTODON_ACCESS_TOKEN",
    "BLUESKY_HANDLE",
    "BLUESKY_APP_PASSWORD",
    "STACKEXCHANGE_KEY",
    "GOOGLE_PLAY_SERVICE_ACCOUNT_JSON",
    "DISCOURSE_API_KEY",
    "FACEBOOK_PAGE_TOKEN",
    "FACEBOOK_APP_SECRET",
    "INSTAGRAM_ACCESS_TOKEN",
    "INSTAGRAM_APP_SECRET",
    "REDDIT_CLIENT_ID",
    "REDDIT_CLIENT_SECRET",
    "REDDIT_USERNAME",
    "REDDIT_PASSWORD",
    "REDDIT_REFRESH_TOKEN",
)


def _source_env(config: FileConfig, environ: Mapping[str, str]) -> dict[str, SecretStr]:
    names = set(SOURCE_CREDENTIALS)
    for source in config.sources:
        names.update(source.credential_variables())
    return {n: SecretStr(v.strip()) for n in sorted(names) if (v := environ.get(n, "")).strip()}


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
