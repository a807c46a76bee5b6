"""What changing a case and reporting on SLAs need of the configuration, in plain Python.

``CaseRules`` holds the departments' calendars, the SLA targets of each priority in each
department (already resolved against ``[sla]`` and the defaults), how long a resolved case can
be reopened, and the people directory. ``Settings`` answers these questions through it, and a
quick command (``triagebot claim``, ``triagebot sla``) reads it from the configuration cache
(``triagebot.config.quick``) without the pydantic models, so both give the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from triagebot.cases.identities import Identity
from triagebot.cases.records import FALLBACK_DEPARTMENT, Priority
from triagebot.config.people import People, Person
from triagebot.durations import Span
from triagebot.sla.calendar import BusinessCalendar
from triagebot.sla.clocks import SlaPolicy

if TYPE_CHECKING:
    from triagebot.config.file import FileConfig

#: A department's business calendar: time zone, weekly hours, holiday calendar.
CalendarSpec = tuple[str, str, str | None]
#: Version of the plain form (``to_json``); a new one makes older cache files stale.
FORMAT = 1


class CaseRules:
    """Calendars, SLA targets, the reopen window and the people, by department."""

    def __init__(
        self,
        calendars: Mapping[str, CalendarSpec],
        policies: Mapping[str, Mapping[Priority, SlaPolicy]],
        general: Mapping[Priority, SlaPolicy],
        reopen_within: timedelta,
        *,
        persons: Sequence[Person] = (),
        managers: Sequence[Identity] = (),
    ) -> None:
        if FALLBACK_DEPARTMENT not in calendars or set(policies) != set(calendars):
            raise ValueError("every department needs a calendar and policies, the fallback too")
        self.calendars = dict(calendars)
        self.policies = {d: dict(p) for d, p in policies.items()}
        self.general = dict(general)
        self.reopen_within = reopen_within
        self.persons = tuple(persons)
        self.managers = tuple(managers)
        self._people: People | None = None
        self._built: dict[CalendarSpec, BusinessCalendar] = {}

    @property
    def department_ids(self) -> list[str]:
        """The configured departments in the file's order, the fallback last if not listed."""
        return list(self.calendars)

    def has_department(self, department: str) -> bool:
        return department in self.calendars

    def calendar_for(self, department: str) -> BusinessCalendar:
        """The department's calendar; the fallback department's for an unknown one.
        Departments with the same time zone, hours and holidays share one calendar (and the
        open intervals it has worked out)."""
        spec = self.calendars.get(department) or self.calendars[FALLBACK_DEPARTMENT]
        calendar = self._built.get(spec)
        if calendar is None:
            calendar = self._built[spec] = BusinessCalendar(*spec)
        return calendar

    def sla_policy(self, priority: Priority, department: str) -> SlaPolicy:
        policies = self.policies.get(department)
        return (policies or self.general)[priority]

    @property
    def people(self) -> People:
        if self._people is None:
            self._people = People(self.persons, self.managers)
        return self._people

    def is_manager(self, actor: Identity) -> bool:
        return self.people.is_manager(actor)

    @classmethod
    def from_config(cls, config: FileConfig) -> CaseRules:
        """The rules of a validated configuration (``Settings.rules``)."""
        from triagebot.config.file import (  # noqa: PLC0415 (pydantic, already loaded here)
            DEFAULT_RESPOND_WITHIN,
            DepartmentConfig,
        )

        departments = {d.id: d for d in config.departments}
        departments.setdefault(
            FALLBACK_DEPARTMENT, DepartmentConfig(id=FALLBACK_DEPARTMENT, name="Triage")
        )
        default, sla = config.calendar, config.sla

        def policy(priority: Priority, dept: DepartmentConfig | None) -> SlaPolicy:
            general = sla.policy(priority)
            chosen = (dept.sla.get(priority) if dept else None) or general
            reminder = chosen.reminder_at or sla.reminder_at
            respond = (
                chosen.respond_within or general.respond_within or DEFAULT_RESPOND_WITHIN[priority]
            )
            return SlaPolicy(chosen.claim_within, chosen.resolve_within, reminder, respond)

        calendars = {
            d.id: (
                d.timezone or default.timezone,
                d.hours or default.hours,
                d.holidays if d.holidays is not None else default.holidays,
            )
            for d in departments.values()
        }
        policies = {d.id: {p: policy(p, d) for p in Priority} for d in departments.values()}
        managers = config.managers
        persons = [Person(r.name, r.identities(), r.manager) for r in config.people]
        listed = [Identity(s, n) for n in managers.names for s in ("cli", "board")]
        listed += [Identity("slack", u) for u in managers.slack]
        listed += [Identity("teams", u) for u in managers.teams]
        general = {p: policy(p, None) for p in Priority}
        return cls(
            calendars, policies, general, sla.reopen_within, persons=persons, managers=listed
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form that ``from_json`` reads back to equal rules."""
        reopen = self.reopen_within
        return {
            "format": FORMAT,
            "calendars": {d: list(spec) for d, spec in self.calendars.items()},
            "policies": {d: _policies_json(p) for d, p in self.policies.items()},
            "general": _policies_json(self.general),
            "reopen_within": [reopen.days, reopen.seconds, reopen.microseconds],
            "persons": [
                [p.name, [[i.surface, i.id] for i in p.identities], p.manager] for p in self.persons
            ],
            "managers": [[i.surface, i.id] for i in self.managers],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseRules:
        """Rules from ``to_json``'s form; ValueError (or KeyError, TypeError) if it is not one."""
        if data["format"] != FORMAT:
            raise ValueError(f"format {data['format']!r}, not {FORMAT}")
        days, seconds, micro = data["reopen_within"]
        calendars = data["calendars"].items()
        persons = [
            Person(name, tuple(Identity(s, i) for s, i in identities), bool(manager))
            for name, identities, manager in data["persons"]
        ]
        return cls(
            calendars={d: (tz, hours, holidays) for d, (tz, hours, holidays) in calendars},
            policies={d: _policies(p) for d, p in data["policies"].items()},
            general=_policies(data["general"]),
            reopen_within=timedelta(days=days, seconds=seconds, microseconds=micro),
            persons=persons,
            managers=[Identity(s, i) for s, i in data["managers"]],
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaseRules) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


def _span(span: Span) -> list[float]:
    return [span.days, span.seconds]


def _policies_json(policies: Mapping[Priority, SlaPolicy]) -> dict[str, list[Any]]:
    return {
        priority.value: [
            _span(p.claim_within), _span(p.resolve_within), p.reminder_at, _span(p.respond_within)
        ]
        for priority, p in policies.items()
    }  # fmt: skip


def _policies(data: Mapping[str, Any]) -> dict[Priority, SlaPolicy]:
    result = {}
    for name, (claim, resolve, reminder, respond) in data.items():
        result[Priority(name)] = SlaPolicy(
            Span(*claim), Span(*resolve), float(reminder), Span(*respond)
        )
    if set(result) != set(Priority):
        raise ValueError("a policy for every priority is needed")
    return result
