"""The sections of triagebot.toml as validated models: brand, calendar, departments, SLA, sources,
escalation, managers, people and routing; ``FileConfig`` is the whole file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from triagebot.cases.identities import Identity
from triagebot.cases.records import Priority
from triagebot.config.people import ID_PATTERN, SLACK_USER, people_problems
from triagebot.config.routing import RoutingConfig
from triagebot.durations import Span, parse_duration, parse_span
from triagebot.sla.calendar import BusinessCalendar, WeeklyHours

SourceType = Literal[
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
SOURCE_TYPES: tuple[str, ...] = get_args(SourceType)


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


class PersonConfig(BaseModel):
    """One ``[[people]]`` row of triagebot.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    slack_user_id: str | None = None
    teams_aad_object_id: str | None = None
    board_login: str | None = None
    cli_name: str | None = None
    #: Bare names a store recorded before identities were qualified (``legacy:<name>``).
    legacy_names: list[str] = []
    manager: bool = False

    @field_validator("name")
    @classmethod
    def _name_is_one_line(cls, value: str) -> str:
        text = " ".join(value.split())
        if not text:
            raise ValueError("must not be blank")
        return text

    @field_validator("slack_user_id")
    @classmethod
    def _slack_id(cls, value: str | None) -> str | None:
        if value is not None and not SLACK_USER.match(value):
            raise ValueError(f"{value!r} is not a Slack user id (U… or W…, from the profile)")
        return value

    @field_validator("teams_aad_object_id")
    @classmethod
    def _teams_id(cls, value: str | None) -> str | None:
        if value is not None:
            Identity("teams", value)
        return value

    @field_validator("board_login")
    @classmethod
    def _board_login(cls, value: str | None) -> str | None:
        if value is not None and not ID_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a board login (lower-case letters, digits, - _)")
        return value

    @field_validator("cli_name")
    @classmethod
    def _cli_name(cls, value: str | None) -> str | None:
        if value is not None:
            Identity("cli", value)
        return value

    def identities(self) -> tuple[Identity, ...]:
        found = [
            Identity(surface, value)
            for surface, value in (
                ("slack", self.slack_user_id),
                ("teams", self.teams_aad_object_id),
                ("board", self.board_login),
                ("cli", self.cli_name),
            )
            if value
        ]
        return (*found, *(Identity("legacy", n) for n in self.legacy_names))


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
    #: The first public answer (None: the priority's ``[sla.P…]`` value, else its default).
    respond_within: PositiveSpan | None = None
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
        if not ID_PATTERN.match(value):
            raise ValueError(
                f"{value!r} is not a valid id: lower-case letters, digits, '-' or '_', "
                "starting with a letter"
            )
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id.replace("_", " ").replace("-", " ").title()


#: The first public answer is due within these when no ``respond_within`` is set.
DEFAULT_RESPOND_WITHIN = {
    Priority.P1: Span(seconds=3600),
    Priority.P2: Span(seconds=4 * 3600),
    Priority.P3: Span(days=1),
}
_DEFAULT_POLICIES = {
    Priority.P1: PolicyConfig(
        claim_within=Span(seconds=900),
        resolve_within=Span(seconds=4 * 3600),
        respond_within=DEFAULT_RESPOND_WITHIN[Priority.P1],
    ),
    Priority.P2: PolicyConfig(
        claim_within=Span(seconds=3600),
        resolve_within=Span(days=1),
        respond_within=DEFAULT_RESPOND_WITHIN[Priority.P2],
    ),
    Priority.P3: PolicyConfig(
        claim_within=Span(seconds=4 * 3600),
        resolve_within=Span(days=3),
        respond_within=DEFAULT_RESPOND_WITHIN[Priority.P3],
    ),
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
    type: SourceType
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
        if not ID_PATTERN.match(value):
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


class RepliesConfig(_Strict):
    """Public replies and thread checks (``[replies]``)."""

    #: "managers": a reply from anyone but a manager is a draft a manager approves.
    approval: Literal["none", "managers"] = "none"
    #: How often the thread under each active case is read at most (the sources' rate
    #: limits may make it less often; see ``triagebot sources``).
    check_every: Duration = timedelta(minutes=5)
    #: How long after a case is resolved its thread is still read for the customer's reply.
    follow_closed_for: Duration = timedelta(days=2)

    @field_validator("check_every")
    @classmethod
    def _check_every_is_sane(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=30):
            raise ValueError("must be at least 30s: thread reads share the sources' rate limits")
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
    replies: RepliesConfig = RepliesConfig()
    managers: ManagersConfig = ManagersConfig()
    people: list[PersonConfig] = []

    @model_validator(mode="after")
    def _unique_names(self) -> FileConfig:
        problems = duplicates("departments", [d.id for d in self.departments])
        problems += duplicates("sources", [s.name for s in self.sources])
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


def duplicates(section: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{section}[{i}]: {name!r} is listed twice")
        seen.add(name)
    return problems


def department_calendar(default: CalendarConfig, dept: DepartmentConfig) -> BusinessCalendar:
    return BusinessCalendar(
        dept.timezone or default.timezone,
        WeeklyHours.parse(dept.hours or default.hours),
        dept.holidays if dept.holidays is not None else default.holidays,
    )
