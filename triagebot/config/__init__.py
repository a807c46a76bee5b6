"""``triagebot.toml`` read into typed settings.

Brand, business calendars, departments with their channels and SLA targets, sources and the
options of each surface, validated with pydantic; every error names the file and field. The
``Settings`` object is what every other package is given; secrets come from the environment,
never from the file. ``Settings`` is imported on first use (it loads pydantic), so that a
quick command reading only ``triagebot.config.quick`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triagebot.config.settings import Settings

__all__ = ["Settings"]


def __getattr__(name: str) -> Any:
    if name == "Settings":
        from triagebot.config.settings import Settings  # noqa: PLC0415

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
