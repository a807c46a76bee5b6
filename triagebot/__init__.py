"""triagebot: route public brand mentions to the department that owns them, with SLA clocks."""

__version__ = "0.1.0"
