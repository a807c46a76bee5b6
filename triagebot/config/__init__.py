"""``triagebot.toml`` read into typed settings.

Brand, business calendars, departments with their channels and SLA targets, sources and the
options of each surface, validated with pydantic; every error names the file and field. The
``Settings`` object is what every other package is given; secrets come from the environment,
never from the file.
"""

from triagebot.config.settings import Settings

__all__ = ["Settings"]
