"""Prefect 1 schedules at ``headwater.schedules``: when a flow runs.

Contract:
    ``Schedule`` (clocks, filters, or_filters, not_filters, adjustments) with
    ``next(n, after=None, return_events=False)`` and ``emit_events(after=None)``;
    ``IntervalSchedule``, ``CronSchedule`` and ``RRuleSchedule`` build one-clock
    schedules; the ``clocks``, ``filters`` and ``adjustments`` submodules hold the parts.
    ``Schedule.to_ref()`` and :func:`schedule_from_ref` convert to and from JSON.
    ``import headwater`` does not import this package; a Flow only holds the object.
"""

from __future__ import annotations

from headwater.schedules import adjustments, clocks, filters
from headwater.schedules._refs import schedule_from_ref
from headwater.schedules.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    Schedule,
)

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "RRuleSchedule",
    "Schedule",
    "adjustments",
    "clocks",
    "filters",
    "schedule_from_ref",
]
