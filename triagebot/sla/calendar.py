"""Business hours of a department and arithmetic in business time.

``WeeklyHours`` is the weekly opening pattern (``"Mon-Fri 09:00-17:00"``); ``BusinessCalendar``
adds a time zone and public holidays and answers ``is_open``, ``next_open``, ``add`` and
``elapsed``. Each local day's open intervals are turned into UTC instants with ``zoneinfo``, so
days that are 23 or 25 hours long count their real length. A local time that does not exist
(spring-forward gap) is read with ``fold=0``, i.e. with the offset in force before the gap
(02:30 becomes 03:30); an ambiguous one (autumn overlap) means its first occurrence; intervals
that then overlap are clipped. Intervals are half-open: open at 09:00, closed at 17:00. Lookups
use a lazily extended table of UTC intervals with running totals, so ``add`` and ``elapsed``
cost two binary searches once the table covers the dates.
"""

from __future__ import annotations

import re
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triagebot.durations import Span
from triagebot.sla.holiday_tables import check_calendar, holidays_of

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name.lower(): i for i, name in enumerate(DAY_NAMES)} | {
    name: i for i, name in enumerate(_FULL_NAMES)
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_EXAMPLE = (
    "write e.g. 'Mon-Fri 09:00-17:00', 'Mon-Fri 09:00-12:00,13:00-17:30; Sat 10:00-14:00' or '24/7'"
)
_DAY_MINUTES = 24 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MAX_CLOSED_DAYS = 3 * 366  # give up when no open time is found within this many days

Interval = tuple[int, int]


def _bad(text: str, problem: str) -> ValueError:
    return ValueError(f"invalid business hours {text!r}: {problem}; {_EXAMPLE}")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class WeeklyHours:
    """Open intervals per weekday (0=Mon..6=Sun) as (start, end) minutes since midnight.

    ``end`` may be 1440 (24:00). Intervals of a day are sorted, positive and do not overlap;
    touching ones are merged.
    """

    days: tuple[tuple[Interval, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("WeeklyHours needs exactly seven days (Mon..Sun)")
        merged: list[tuple[Interval, ...]] = []
        for weekday, intervals in enumerate(self.days):
            day: list[Interval] = []
            for start, end in sorted(intervals):
                label = f"{DAY_NAMES[weekday]} {_hhmm(start)}-{_hhmm(end)}"
                if not 0 <= start < _DAY_MINUTES or not 0 < end <= _DAY_MINUTES:
                    raise _bad(label, "times must lie between 00:00 and 24:00")
                if end <= start:
                    raise _bad(label, "the end must be after the start (split overnight shifts)")
                if day and start < day[-1][1]:
                    raise _bad(label, f"it overlaps {_hhmm(day[-1][0])}-{_hhmm(day[-1][1])}")
                if day and start == day[-1][1]:
                    day[-1] = (day[-1][0], end)
                else:
                    day.append((start, end))
            merged.append(tuple(day))
        if not any(merged):
            raise _bad(str(self.days), "there is no open time at all")
        object.__setattr__(self, "days", tuple(merged))

    @classmethod
    def parse(cls, text: str) -> WeeklyHours:
        """Read ``"Mon-Fri 09:00-17:00; Sat 10:00-14:00"``, ``"Mon,Wed 08:00-12:00,13:00-16:00"``
        or ``"24/7"``; raise ValueError with a message fit to show."""
        if not isinstance(text, str):
            raise _bad(str(text), "expected text")
        clean = text.replace("\u2013", "-").replace("\u2014", "-").strip()
        if clean.lower() in ("24/7", "24x7"):
            return cls(tuple(((0, _DAY_MINUTES),) for _ in range(7)))
        days: list[list[Interval]] = [[] for _ in range(7)]
        seen: set[int] = set()
        groups = [g.strip() for g in clean.split(";")]
        if not any(groups):
            raise _bad(text, "there is no open time at all")
        for group in groups:
            if not group:
                continue
            match = re.search(r"\d", group)
            if match is None:
                raise _bad(text, f"{group!r} has days but no hours")
            day_part, time_part = group[: match.start()], group[match.start() :]
            weekdays = _parse_days(text, day_part)
            intervals = _parse_intervals(text, time_part)
            for weekday in weekdays:
                if weekday in seen:
                    raise _bad(text, f"{DAY_NAMES[weekday]} is listed twice")
                seen.add(weekday)
                days[weekday].extend(intervals)
        return cls(tuple(tuple(d) for d in days))

    def __str__(self) -> str:
        if self.week_seconds == 7 * 86400:
            return "24/7"
        groups: dict[tuple[Interval, ...], list[int]] = {}
        for weekday, intervals in enumerate(self.days):
            if intervals:
                groups.setdefault(intervals, []).append(weekday)
        parts = []
        for intervals, weekdays in sorted(groups.items(), key=lambda item: item[1][0]):
            hours = ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in intervals)
            parts.append(f"{_format_days(weekdays)} {hours}")
        return "; ".join(parts)

    @property
    def week_seconds(self) -> int:
        """Nominal open seconds per week (ignoring DST and holidays)."""
        return sum(end - start for day in self.days for start, end in day) * 60

    @property
    def day_length(self) -> timedelta:
        """Median open time of the open days: the length of one business day."""
        lengths = [sum(e - s for s, e in day) for day in self.days if day]
        return timedelta(minutes=statistics.median(lengths))


def _parse_days(text: str, part: str) -> list[int]:
    part = part.replace(" ", "").strip(",")
    if not part:
        raise _bad(text, "each group needs days before its hours")
    result: list[int] = []
    for item in part.split(","):
        names = item.split("-")
        if len(names) > 2 or not all(names):
            raise _bad(text, f"{item!r} is not a day or a day range like Mon-Fri")
        indexes = []
        for name in names:
            if name.lower() not in _DAY_INDEX:
                raise _bad(text, f"unknown day {name!r} (use {', '.join(DAY_NAMES)})")
            indexes.append(_DAY_INDEX[name.lower()])
        first, last = indexes[0], indexes[-1]
        if last < first:
            split = _format_days([*range(first, 7), *range(last + 1)])
            raise _bad(text, f"the day range {item!r} wraps past Sunday: write it as {split!r}")
        for weekday in range(first, last + 1):
            if weekday in result:
                raise _bad(text, f"{DAY_NAMES[weekday]} is listed twice")
            result.append(weekday)
    return result


def _parse_time(text: str, value: str) -> int:
    match = _TIME.match(value)
    if match is None:
        raise _bad(text, f"{value!r} is not a time like 09:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise _bad(text, f"{value!r} is not a time between 00:00 and 24:00")
    return hours * 60 + minutes


def _parse_intervals(text: str, part: str) -> list[Interval]:
    result: list[Interval] = []
    for item in part.replace(" ", "").split(","):
        bounds = item.split("-")
        if len(bounds) != 2:
            raise _bad(text, f"{item!r} is not an interval like 09:00-17:00")
        start, end = _parse_time(text, bounds[0]), _parse_time(text, bounds[1])
        if end <= start:
            raise _bad(text, f"in {item!r} the end is not after the start (split overnight shifts)")
        for other in result:
            if start < other[1] and other[0] < end:
                raise _bad(text, f"{item!r} overlaps {_hhmm(other[0])}-{_hhmm(other[1])}")
        result.append((start, end))
    return result


def _format_days(weekdays: list[int]) -> str:
    runs: list[list[int]] = []
    for weekday in weekdays:
        if runs and runs[-1][-1] == weekday - 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    return ",".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs
    )


def _to_us(value: datetime) -> int:
    try:
        return (value - _EPOCH) // _US
    except TypeError:
        raise ValueError(f"expected an aware datetime, got {value!r}") from None


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class _Table:
    """UTC intervals (µs since epoch) for local days ``first..last`` with running open totals."""

    first: int  # date ordinals
    last: int
    lo: int  # UTC µs of the first day's 00:00 and of the day after the last day
    hi: int
    starts: list[int]
    ends: list[int]
    totals: list[int]  # open µs from ``lo`` to ends[i]

    def before(self, at: int) -> int:
        """Open µs between ``lo`` and ``at`` (which must lie in ``lo..hi``)."""
        i = bisect_right(self.starts, at) - 1
        if i < 0:
            return 0
        return self.totals[i] - max(0, self.ends[i] - at)


class BusinessCalendar:
    """A department's open hours in its time zone, closed on public holidays."""

    def __init__(
        self, timezone: str, hours: WeeklyHours | str, holidays: str | None = None
    ) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(
                f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Berlin'"
            ) from exc
        self.timezone = timezone
        self.hours = hours if isinstance(hours, WeeklyHours) else WeeklyHours.parse(hours)
        self.holidays = holidays or None
        self._country: str | None = None
        self._subdiv: str | None = None
        if self.holidays:
            country, _, subdiv = self.holidays.strip().upper().partition("-")
            self._country, self._subdiv = country, subdiv or None
            try:
                check_calendar(country, self._subdiv)
            except NotImplementedError as exc:
                raise ValueError(
                    f"unknown holiday calendar {holidays!r}: use a country code with an optional "
                    "subdivision, like 'US', 'US-CA' or 'DE-BY'"
                ) from exc
        self._day_us = round(self.hours.day_length / _US)
        self._week_us = self.hours.week_seconds * 1_000_000
        self._holiday_years: dict[int, frozenset[date]] = {}
        self._days: dict[int, tuple[Interval, ...]] = {}
        self._table: _Table | None = None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.timezone!r}, {str(self.hours)!r}, {self.holidays!r})"

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` lies in an open interval (starts count as open, ends as closed)."""
        t = _to_us(at)
        table = self._cover(t, t)
        i = bisect_right(table.starts, t) - 1
        return i >= 0 and t < table.ends[i]

    def next_open(self, at: datetime) -> datetime:
        """``at`` (in UTC) if open, else the next opening."""
        t = _to_us(at)
        table = self._cover(t, t)
        i = bisect_right(table.starts, t) - 1
        if i >= 0 and t < table.ends[i]:
            return at.astimezone(UTC)
        while i + 1 >= len(table.starts):
            table = self._extend_high(table, 366)
        return _from_us(table.starts[i + 1])

    def add(self, start: datetime, amount: Span | timedelta) -> datetime:
        """``start`` advanced by ``amount`` of business time, in UTC.

        A Span's days count ``hours.day_length`` each. Counting begins at ``next_open(start)``;
        a zero amount gives ``next_open(start)``. When the last business second is the last of
        an interval, the result is that interval's close (e.g. 17:00), not the next opening.
        """
        if isinstance(amount, Span):
            amount_us = round(amount.days * self._day_us + amount.seconds * 1_000_000)
        else:
            amount_us = amount // _US
        if amount_us < 0:
            raise ValueError(f"cannot add a negative amount of business time ({amount})")
        if amount_us == 0:
            return self.next_open(start)
        t = _to_us(start)
        table = self._cover(t, t)
        target = table.before(t) + amount_us
        while not table.totals or table.totals[-1] < target:
            missing = target - (table.totals[-1] if table.totals else 0)
            table = self._extend_high(table, 7 * (missing // max(self._week_us, 1)) + 14)
        j = bisect_left(table.totals, target)
        return _from_us(table.ends[j] - (table.totals[j] - target))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between ``start`` and ``end``; zero when ``end <= start``."""
        a, b = _to_us(start), _to_us(end)
        if b <= a:
            return timedelta(0)
        table = self._cover(a, b)
        return timedelta(microseconds=table.before(b) - table.before(a))

    def offsets(self, instants: Sequence[datetime]) -> list[float]:
        """Business seconds from one origin to each instant, for many instants at once.

        ``elapsed(a, b) == offsets([a, b])[1] - offsets([a, b])[0]`` when ``a <= b``; the origin
        is only fixed within one call. One table lookup per instant, so reports over many
        cases avoid a call to ``elapsed`` per pair.
        """
        if not instants:
            return []
        us = [_to_us(at) for at in instants]
        table = self._cover(min(us), max(us))
        before = table.before
        return [before(t) / 1_000_000 for t in us]

    def intervals_us(self, low: int, high: int) -> tuple[list[int], list[int], list[int]]:
        """Open intervals covering the instants ``low <= high`` (UTC µs since the epoch):
        (starts, ends, running open totals at each end), for lookups over many instants.

        The business µs before ``t`` (from a fixed origin) are ``0`` if ``i < 0``, else
        ``totals[i] - max(0, ends[i] - t)`` with ``i = bisect_right(starts, t) - 1``.
        """
        table = self._cover(low, high)
        return table.starts, table.ends, table.totals

    def _holiday_dates(self, year: int) -> frozenset[date]:
        cached = self._holiday_years.get(year)
        if cached is None:
            country = self._country
            cached = holidays_of(country, self._subdiv, year) if country else frozenset()
            self._holiday_years[year] = cached
        return cached

    def _midnight_us(self, ordinal: int) -> int:
        day = date.fromordinal(ordinal)
        return _to_us(datetime(day.year, day.month, day.day, tzinfo=self.tz))

    def _day(self, ordinal: int) -> tuple[Interval, ...]:
        """Open UTC intervals of one local day (fold=0 for nonexistent/ambiguous times)."""
        cached = self._days.get(ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(ordinal)
        result: list[Interval] = []
        if day not in self._holiday_dates(day.year):
            floor = self._midnight_us(ordinal)
            ceiling = self._midnight_us(ordinal + 1)
            for start_min, end_min in self.hours.days[day.weekday()]:
                start = max(floor, self._local_us(day, start_min, floor, ceiling))
                end = min(ceiling, self._local_us(day, end_min, floor, ceiling))
                if end > start:
                    result.append((start, end))
                    floor = end
        self._days[ordinal] = cached = tuple(result)
        return cached

    def _local_us(self, day: date, minutes: int, midnight: int, next_midnight: int) -> int:
        if minutes == 0:
            return midnight
        if minutes == _DAY_MINUTES:
            return next_midnight
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.tz)
        return _to_us(local)

    def _ordinal_of(self, t: int) -> int:
        return _from_us(t).astimezone(self.tz).date().toordinal()

    def _build(self, first: int, last: int) -> _Table:
        if first < 2 or last > date.max.toordinal() - 2:
            raise ValueError("date out of the supported range")
        starts: list[int] = []
        ends: list[int] = []
        totals: list[int] = []
        total = 0
        for ordinal in range(first, last + 1):
            for start, end in self._day(ordinal):
                if ends and start <= ends[-1]:
                    if end <= ends[-1]:
                        continue
                    total += end - ends[-1]
                    ends[-1] = end
                    totals[-1] = total
                    continue
                total += end - start
                starts.append(start)
                ends.append(end)
                totals.append(total)
        lo, hi = self._midnight_us(first), self._midnight_us(last + 1)
        return _Table(first, last, lo, hi, starts, ends, totals)

    def _cover(self, a: int, b: int) -> _Table:
        """A table whose range contains the instants ``a <= b``."""
        table = self._table
        if table is not None and table.lo <= a and b < table.hi:
            return table
        first, last = self._ordinal_of(a) - 1, self._ordinal_of(b) + 1
        if table is None:
            table = self._build(first - 35, last + 400)
        else:
            if first < table.first:
                first = min(first - 35, table.first - 366)
            if last > table.last:
                last = max(last + 35, table.last + 366)
            table = self._build(min(first, table.first), max(last, table.last))
        self._table = table
        return table

    def _extend_high(self, table: _Table, days: int) -> _Table:
        """``table`` extended by at least ``days`` days; fail after years without open time."""
        extended = self._build(table.first, table.last + max(days, 366))
        gained = (extended.totals[-1] if extended.totals else 0) - (
            table.totals[-1] if table.totals else 0
        )
        if not gained:
            last_open = self._ordinal_of(table.ends[-1] - 1) if table.ends else table.first
            if extended.last - last_open > _MAX_CLOSED_DAYS:
                raise ValueError(
                    f"no open time within {_MAX_CLOSED_DAYS // 366} years in the calendar {self!r}"
                )
        self._table = extended
        return extended
