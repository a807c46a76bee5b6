"""Service-level clocks and figures, in business hours.

Business calendars (working hours, split shifts, public holidays) and durations; the due times
of a case's claim and resolve targets, its progress and breaches (``clocks``); the statistics
of a group of cases (``figures``) and the period summary computed on columns of stored facts
(``period``, ``summary``); the status line cards show, the chart and the CSV export. Pure
maths over ``cases`` records: reading the store and running the ladder belong to ``reports``
and ``actions``.
"""

from triagebot.sla.clocks import SlaPolicy, due_times
from triagebot.sla.figures import GroupStats, Summary, TargetStats

__all__ = ["GroupStats", "SlaPolicy", "Summary", "TargetStats", "due_times"]
