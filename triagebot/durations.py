"""Durations written by people: ``15m``, ``4h``, ``1d``, ``1h30m``, ``2w``.

Two readings of the same text:

* ``parse_duration`` gives wall-clock time (a day is 24 hours), for poll intervals, look-back
  periods and windows;
* ``parse_span`` keeps days apart (``Span``), because an SLA target of ``1d`` means one
  *business* day of the department's calendar, not 24 business hours.

Both refuse anything longer than ``MAX_DAYS`` (about 100 years).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: No period, interval or target is longer (about 100 years): a longer one is a typo, and
#: ``now - period`` would leave the calendar.
MAX_DAYS = 36_500
MAX_SECONDS = MAX_DAYS * 86400
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$", re.IGNORECASE)


@dataclass(frozen=True)
class Span:
    """An amount of business time: whole business days plus business seconds."""

    days: float = 0.0
    seconds: float = 0.0

    def __str__(self) -> str:
        parts = []
        if self.days:
            parts.append(f"{self.days:g}d")
        if self.seconds:
            parts.append(format_seconds(self.seconds))
        return " ".join(parts) or "0m"


def _parts(text: str) -> list[tuple[float, str]]:
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit s, m, h, d or w, like 15m, 4h, 1d"
        )
    parts = [(float(n), unit.lower()) for n, unit in _PART.findall(text)]
    if sum(n * _UNIT_SECONDS[unit] for n, unit in parts) > MAX_SECONDS:
        raise ValueError(f"{text[:40]!r} is longer than {MAX_DAYS} days")
    return parts


def parse_duration(text: str) -> timedelta:
    """Wall-clock duration; raises ValueError with a message fit to show."""
    return timedelta(seconds=sum(n * _UNIT_SECONDS[unit] for n, unit in _parts(text)))


def parse_span(text: str) -> Span:
    """Business duration: ``d`` and ``w`` count business days (a week is five of them)."""
    days = 0.0
    seconds = 0.0
    for n, unit in _parts(text):
        if unit == "d":
            days += n
        elif unit == "w":
            days += 5 * n
        else:
            seconds += n * _UNIT_SECONDS[unit]
    return Span(days=days, seconds=seconds)


def format_seconds(seconds: float) -> str:
    """Short human form: ``45s``, ``12m``, ``3h 05m``, ``2d 04h``, ``7d``."""
    total = round(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 60:
        return f"{sign}{total}s"
    minutes, _ = divmod(total, 60)
    if minutes < 60:
        return f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h" + (f" {minutes:02d}m" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d" + (f" {hours:02d}h" if hours else "")
