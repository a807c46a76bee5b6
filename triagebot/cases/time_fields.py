"""Datetimes as the stores keep them: aware UTC, written as ISO 8601 strings."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def parse_iso(value: str | None) -> datetime | None:
    return None if value is None else utc(datetime.fromisoformat(value))


def req_iso(value: str) -> datetime:
    return utc(datetime.fromisoformat(value))
