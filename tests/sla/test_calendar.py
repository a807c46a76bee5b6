from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triagebot.durations import Span
from triagebot.sla.calendar import BusinessCalendar, WeeklyHours

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
AUCKLAND = ZoneInfo("Pacific/Auckland")
H = timedelta(hours=1)


def at(tz: ZoneInfo, *parts: int) -> datetime:
    """Local wall time: ``at(NY, 2026, 5, 8, 16)``."""
    y, mo, d, h, mi = (*parts, 0, 0)[:5]
    return datetime(y, mo, d, h, mi, tzinfo=tz)


# -- WeeklyHours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00"),
        ("Mon-Fri 09:00-12:00,13:00-17:30", "Mon-Fri 09:00-12:00,13:00-17:30"),
        ("Mon-Fri 09:00-17:00; Sat 10:00-14:00", "Mon-Fri 09:00-17:00; Sat 10:00-14:00"),
        ("Mon,Wed,Fri 08:00-16:00", "Mon,Wed,Fri 08:00-16:00"),
        ("24/7", "24/7"),
        ("Mon-Sun 00:00-24:00", "24/7"),
        ("mon-fri 9:00-17:00", "Mon-Fri 09:00-17:00"),
        ("Sat 10:00-14:00; Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00; Sat 10:00-14:00"),
        ("Mon-Wed,Fri 09:00-17:00", "Mon-Wed,Fri 09:00-17:00"),
        ("Monday-Friday 09:00-12:00, 12:00-17:00", "Mon-Fri 09:00-17:00"),
        ("Mon 22:00-24:00; Tue 00:00-06:00", "Mon 22:00-24:00; Tue 00:00-06:00"),
    ],
)
def test_parse_and_canonical_text(text: str, canonical: str) -> None:
    hours = WeeklyHours.parse(text)
    assert str(hours) == canonical
    assert WeeklyHours.parse(str(hours)) == hours


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mox-Fri 09:00-17:00", "unknown day 'Mox'"),
        ("Mon-Fri 17:00-09:00", "end is not after the start"),
        ("Mon-Fri 09:00-09:00", "end is not after the start"),
        ("Mon 09:00-12:00,11:00-13:00", "overlaps 09:00-12:00"),
        ("Mon-Fri 09:00-17:00; Fri 18:00-19:00", "Fri is listed twice"),
        ("Mon,Mon 09:00-17:00", "Mon is listed twice"),
        ("", "no open time"),
        ("  ;  ", "no open time"),
        ("Fri-Mon 09:00-17:00", "wraps past Sunday: write it as 'Fri-Sun,Mon'"),
        ("Mon-Fri", "has days but no hours"),
        ("09:00-17:00", "needs days before its hours"),
        ("Mon-Fri 9-17", "'9' is not a time like 09:00"),
        ("Mon 25:00-26:00", "'25:00' is not a time between 00:00 and 24:00"),
        ("Mon 09:60-10:00", "not a time between"),
        ("Mon 09:00-10:00-11:00", "not an interval"),
    ],
)
def test_parse_errors_say_what_and_show_an_example(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid business hours") as info:
        WeeklyHours.parse(text)
    assert message in str(info.value)
    assert "Mon-Fri 09:00-17:00" in str(info.value)


def test_week_seconds_and_day_length() -> None:
    assert WeeklyHours.parse("Mon-Fri 09:00-17:00").week_seconds == 40 * 3600
    assert WeeklyHours.parse("Mon-Fri 09:00-17:00").day_length == 8 * H
    assert WeeklyHours.parse("24/7").day_length == 24 * H
    split = WeeklyHours.parse("Mon-Fri 09:00-12:00,13:00-17:30; Sat 10:00-14:00")
    assert split.day_length == timedelta(hours=7, minutes=30)
    assert WeeklyHours.parse("Mon 08:00-16:00; Tue 08:00-12:00").day_length == 6 * H


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="no open time"):
        WeeklyHours(((),) * 7)
    with pytest.raises(ValueError, match="seven days"):
        WeeklyHours(((),))


# -- BusinessCalendar construction --------------------------------------------------------


def test_unknown_time_zone_and_holidays() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        BusinessCalendar("Mars/Olympus", "24/7")
    with pytest.raises(ValueError, match="'XX'"):
        BusinessCalendar("UTC", "24/7", "XX")
    with pytest.raises(ValueError, match="'US-ZZ'"):
        BusinessCalendar("UTC", "24/7", "US-ZZ")
    with pytest.raises(ValueError, match="invalid business hours"):
        BusinessCalendar("UTC", "Mon-Fri")
    assert "US-CA" in repr(BusinessCalendar("America/Los_Angeles", "Mon-Fri 09:00-17:00", "US-CA"))


def test_naive_datetimes_are_refused() -> None:
    cal = BusinessCalendar("UTC", "24/7")
    with pytest.raises(ValueError, match="aware"):
        cal.is_open(datetime(2026, 1, 1))


# -- open/closed, weekends, split shifts, holidays ----------------------------------------

NINE_TO_FIVE = BusinessCalendar("America/New_York", "Mon-Fri 09:00-17:00", "US")


def test_is_open_and_next_open() -> None:
    cal = NINE_TO_FIVE
    assert cal.is_open(at(NY, 2026, 5, 5, 9))
    assert not cal.is_open(at(NY, 2026, 5, 5, 17))  # half-open: the close is closed
    assert not cal.is_open(at(NY, 2026, 5, 9, 12))  # Saturday
    assert cal.next_open(at(NY, 2026, 5, 5, 10)) == at(NY, 2026, 5, 5, 10)
    assert cal.next_open(at(NY, 2026, 5, 5, 10)).tzinfo is UTC
    assert cal.next_open(at(NY, 2026, 5, 8, 17)) == at(NY, 2026, 5, 11, 9)
    assert cal.next_open(at(NY, 2026, 5, 5, 3)) == at(NY, 2026, 5, 5, 9)


def test_friday_evening_plus_two_hours_lands_monday_morning() -> None:
    start = at(NY, 2026, 5, 8, 16)
    assert NINE_TO_FIVE.add(start, 2 * H) == at(NY, 2026, 5, 11, 10)
    assert NINE_TO_FIVE.elapsed(start, at(NY, 2026, 5, 11, 10)) == 2 * H


def test_due_on_the_last_second_is_the_close_not_the_next_opening() -> None:
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 8, 16), H) == at(NY, 2026, 5, 8, 17)


def test_start_in_closed_hours_counts_from_the_next_opening() -> None:
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 9, 12), 30 * timedelta(minutes=1)) == at(
        NY, 2026, 5, 11, 9, 30
    )
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 20), Span(seconds=3600)) == at(NY, 2026, 5, 6, 10)


def test_zero_amount_is_next_open() -> None:
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 10), Span()) == at(NY, 2026, 5, 5, 10)
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 18), timedelta(0)) == at(NY, 2026, 5, 6, 9)
    with pytest.raises(ValueError, match="negative"):
        NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 10), -H)


def test_business_day_is_day_length() -> None:
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 15), Span(days=1)) == at(NY, 2026, 5, 6, 15)
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 8, 15), Span(days=1)) == at(NY, 2026, 5, 11, 15)
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 15), Span(days=1, seconds=7200)) == at(
        NY, 2026, 5, 6, 17
    )
    assert NINE_TO_FIVE.add(at(NY, 2026, 5, 5, 15), Span(days=1.5)) == at(NY, 2026, 5, 7, 11)


def test_split_shift_skips_lunch() -> None:
    cal = BusinessCalendar("Europe/Berlin", "Mon-Fri 09:00-12:00,13:00-17:30")
    assert cal.add(at(BERLIN, 2026, 5, 5, 11), 2 * H) == at(BERLIN, 2026, 5, 5, 14)
    assert cal.add(at(BERLIN, 2026, 5, 5, 11), H) == at(BERLIN, 2026, 5, 5, 12)
    assert not cal.is_open(at(BERLIN, 2026, 5, 5, 12, 30))
    assert cal.elapsed(at(BERLIN, 2026, 5, 5, 8), at(BERLIN, 2026, 5, 5, 18)) == 7.5 * H
    assert cal.add(at(BERLIN, 2026, 5, 5, 15), Span(days=1)) == at(BERLIN, 2026, 5, 6, 15)


def test_us_thanksgiving_is_closed() -> None:
    thanksgiving = at(NY, 2026, 11, 26, 12)
    assert not NINE_TO_FIVE.is_open(thanksgiving)
    assert NINE_TO_FIVE.add(at(NY, 2026, 11, 25, 15), Span(days=1)) == at(NY, 2026, 11, 27, 15)
    assert NINE_TO_FIVE.elapsed(at(NY, 2026, 11, 25, 9), at(NY, 2026, 11, 28)) == 16 * H


def test_german_unity_day_and_subdivision() -> None:
    cal = BusinessCalendar("Europe/Berlin", "Mon-Sat 09:00-17:00", "DE-BY")
    assert not cal.is_open(at(BERLIN, 2026, 10, 3, 10))  # Saturday, Tag der Deutschen Einheit
    assert cal.is_open(at(BERLIN, 2026, 10, 10, 10))
    assert not cal.is_open(at(BERLIN, 2026, 1, 6, 10))  # Epiphany in Bavaria
    assert BusinessCalendar("Europe/Berlin", "Mon-Sat 09:00-17:00", "DE-BE").is_open(
        at(BERLIN, 2026, 1, 6, 10)
    )


# -- DST ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        (NY, (2026, 3, 8), 23),
        (NY, (2026, 11, 1), 25),
        (BERLIN, (2026, 3, 29), 23),
        (BERLIN, (2026, 10, 25), 25),
    ],
)
def test_around_the_clock_days_count_their_real_length(
    tz: ZoneInfo, day: tuple[int, int, int], hours: int
) -> None:
    cal = BusinessCalendar(tz.key, "24/7")
    start = at(tz, *day)
    end = start.replace(day=day[2] + 1)
    assert cal.elapsed(start, end) == hours * H
    assert cal.add(start, hours * H) == end
    assert cal.add(start, Span(days=1)) == start.astimezone(UTC) + 24 * H  # 24 real hours


def test_nine_to_five_across_dst() -> None:
    cal = BusinessCalendar("America/New_York", "Mon-Fri 09:00-17:00")
    assert cal.add(at(NY, 2026, 3, 6, 16), 2 * H) == at(NY, 2026, 3, 9, 10)
    assert cal.add(at(NY, 2026, 3, 9, 10), H) == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert cal.add(at(NY, 2026, 10, 30, 16), 2 * H) == datetime(2026, 11, 2, 15, tzinfo=UTC)
    berlin = BusinessCalendar("Europe/Berlin", "Mon-Fri 09:00-17:00")
    assert berlin.elapsed(at(BERLIN, 2026, 3, 27, 9), at(BERLIN, 2026, 3, 30, 17)) == 16 * H
    assert berlin.add(at(BERLIN, 2026, 10, 23, 16), 2 * H) == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_nonexistent_and_ambiguous_local_times_do_not_crash() -> None:
    spring = BusinessCalendar("America/New_York", "Sun 02:30-04:00")
    # 02:30 does not exist on 2026-03-08: read with fold=0 it is 03:30 EDT.
    assert not spring.is_open(at(NY, 2026, 3, 8, 3, 15))
    assert spring.is_open(at(NY, 2026, 3, 8, 3, 30))
    assert spring.elapsed(at(NY, 2026, 3, 8), at(NY, 2026, 3, 9)) == 0.5 * H
    autumn = BusinessCalendar("America/New_York", "Sun 01:00-02:00")
    assert autumn.elapsed(at(NY, 2026, 11, 1), at(NY, 2026, 11, 2)) == 2 * H
    clipped = BusinessCalendar("America/New_York", "Sun 01:00-02:30,03:00-04:00")
    assert clipped.elapsed(at(NY, 2026, 3, 8), at(NY, 2026, 3, 9)) == 2 * H


# -- far from UTC ----------------------------------------------------------------------------


def test_kolkata_and_auckland() -> None:
    kolkata = BusinessCalendar("Asia/Kolkata", "Mon-Fri 09:30-18:00")
    start = at(KOLKATA, 2026, 5, 8, 17)  # Friday
    assert kolkata.add(start, 2 * H) == at(KOLKATA, 2026, 5, 11, 10, 30)
    assert kolkata.add(start, 2 * H) == datetime(2026, 5, 11, 5, 0, tzinfo=UTC)
    assert kolkata.is_open(datetime(2026, 5, 11, 4, 0, tzinfo=UTC))  # 09:30 IST
    auckland = BusinessCalendar("Pacific/Auckland", "Mon-Fri 08:00-16:00", "NZ")
    # Monday 09:00 in Auckland is still Sunday in UTC.
    monday = at(AUCKLAND, 2026, 5, 11, 9)
    assert monday.astimezone(UTC).weekday() == 6
    assert auckland.is_open(monday)
    assert auckland.add(at(AUCKLAND, 2026, 5, 8, 15), 2 * H) == at(AUCKLAND, 2026, 5, 11, 9)
    # NZ DST ends 2026-04-05: 24/7 day of 25 hours.
    around = BusinessCalendar("Pacific/Auckland", "24/7")
    assert around.elapsed(at(AUCKLAND, 2026, 4, 5), at(AUCKLAND, 2026, 4, 6)) == 25 * H


# -- long spans and guards -------------------------------------------------------------------


def test_long_spans_and_far_apart_dates() -> None:
    cal = BusinessCalendar("UTC", "Mon-Fri 09:00-17:00")
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)  # Monday
    assert cal.add(start, 40 * 52 * H) == datetime(2027, 1, 1, 17, tzinfo=UTC)
    assert (
        cal.elapsed(datetime(2020, 1, 6, tzinfo=UTC), datetime(2020, 1, 13, tzinfo=UTC)) == 40 * H
    )
    assert cal.elapsed(start, start - H) == timedelta(0)


def test_no_open_time_for_years_raises() -> None:
    cal = BusinessCalendar("UTC", "Mon 09:00-17:00")
    # Every Monday a holiday: fake it by filling the cache.
    every_monday = frozenset(
        d.date()
        for d in (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(365 * 12))
    )
    for year in range(2025, 2040):
        cal._holiday_years[year] = frozenset(d for d in every_monday if d.year == year)
    with pytest.raises(ValueError, match="no open time"):
        cal.add(datetime(2026, 1, 1, tzinfo=UTC), H)


# -- properties -------------------------------------------------------------------------------

CALENDARS = [
    NINE_TO_FIVE,
    BusinessCalendar("Europe/Berlin", "Mon-Fri 09:00-12:00,13:00-17:30; Sat 10:00-14:00", "DE"),
    BusinessCalendar("Europe/Berlin", "24/7"),
    BusinessCalendar("America/New_York", "Sun 01:00-03:30; Mon-Fri 00:00-01:30,22:00-24:00"),
    BusinessCalendar("Asia/Kolkata", "Mon,Wed,Fri 08:00-16:00", "IN"),
]
calendars = st.sampled_from(CALENDARS)
instants = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
amounts = st.integers(min_value=1, max_value=60 * 24 * 3600).map(lambda s: timedelta(seconds=s))
US = timedelta(microseconds=1)


def _closed_inside(cal: BusinessCalendar, t: datetime) -> bool:
    return not cal.is_open(t) and not cal.is_open(t - US)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, amount=amounts)
def test_due_time_never_strictly_inside_closed_hours(
    cal: BusinessCalendar, start: datetime, amount: timedelta
) -> None:
    due = cal.add(start, amount)
    assert due > start
    assert not _closed_inside(cal, due)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, a=amounts, b=amounts)
def test_add_is_monotonic_in_amount(
    cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    a, b = sorted((a, b))
    assert cal.add(start, a) <= cal.add(start, b)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, s1=instants, s2=instants, amount=amounts)
def test_add_is_monotonic_in_start(
    cal: BusinessCalendar, s1: datetime, s2: datetime, amount: timedelta
) -> None:
    s1, s2 = sorted((s1, s2))
    assert cal.add(s1, amount) <= cal.add(s2, amount)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, start=instants, amount=amounts)
def test_elapsed_inverts_add(cal: BusinessCalendar, start: datetime, amount: timedelta) -> None:
    start = cal.next_open(start)
    assert abs(cal.elapsed(start, cal.add(start, amount)) - amount) <= timedelta(seconds=1)


@settings(max_examples=300, deadline=None)
@given(cal=calendars, points=st.lists(instants, min_size=3, max_size=3))
def test_elapsed_is_additive(cal: BusinessCalendar, points: list[datetime]) -> None:
    a, b, c = sorted(points)
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)
    assert cal.elapsed(a, c) <= c - a


@settings(max_examples=200, deadline=None)
@given(cal=calendars, start=instants)
def test_next_open_is_open_and_nothing_open_before(cal: BusinessCalendar, start: datetime) -> None:
    opening = cal.next_open(start)
    assert opening >= start
    assert cal.is_open(opening)
    assert cal.elapsed(start, opening) == timedelta(0)
