"""Schedules: clocks, then filters, then adjustments (Prefect 1's model).

Contract:
    ``Schedule(clocks, filters, or_filters, not_filters, adjustments)`` merges the
    clocks' events in time order (an event emitted identically by two clocks counts
    once), keeps those for which every ``filters`` entry is true, at least one
    ``or_filters`` entry is true (when any are given) and no ``not_filters`` entry is
    true, passes each through the ``adjustments`` in order, and emits it.
    :meth:`Schedule.next` returns the first ``n`` of those after ``after`` (default
    now), looking at no more than 10,000 clock events so that a too-strict filter
    cannot loop forever. ``IntervalSchedule``, ``CronSchedule`` and ``RRuleSchedule``
    build a one-clock Schedule.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from headwater.schedules.clocks import (
    Clock,
    ClockEvent,
    CronClock,
    IntervalClock,
    RRuleClock,
)

__all__ = ["CronSchedule", "IntervalSchedule", "RRuleSchedule", "Schedule"]

#: Clock events looked at by one ``next()`` call at most.
MAX_EVENTS_CHECKED = 10_000

Filter = Callable[[datetime], bool]
Adjustment = Callable[[datetime], datetime]


def _callables(value: Sequence[Any] | None, name: str) -> list[Any]:
    if value is None:
        return []
    if callable(value) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of functions, got {value!r}.")
    items = list(value)
    for item in items:
        if not callable(item):
            raise TypeError(f"each of {name} must be callable, got {item!r}.")
    return items


class Schedule:
    """When a flow runs: one or more clocks, optional filters and adjustments.

    Args:
        clocks: the clocks that emit candidate times (at least one).
        filters: every one must be true for a time to pass.
        or_filters: when given, at least one must be true.
        not_filters: none may be true.
        adjustments: functions applied in order to each time that passed.

    Raises:
        TypeError: when ``clocks`` is not a list of clocks or a filter is not callable.
        ValueError: when ``clocks`` is empty.
    """

    def __init__(
        self,
        clocks: Sequence[Clock],
        filters: Sequence[Filter] | None = None,
        or_filters: Sequence[Filter] | None = None,
        not_filters: Sequence[Filter] | None = None,
        adjustments: Sequence[Adjustment] | None = None,
    ) -> None:
        if isinstance(clocks, Clock) or not isinstance(clocks, Iterable):
            raise TypeError(f"clocks must be a list of clocks, got {clocks!r}.")
        self.clocks: list[Clock] = list(clocks)
        if not self.clocks:
            raise ValueError("A Schedule needs at least one clock.")
        for clock in self.clocks:
            if not isinstance(clock, Clock):
                raise TypeError(f"each of clocks must be a Clock, got {clock!r}.")
        self.filters: list[Filter] = _callables(filters, "filters")
        self.or_filters: list[Filter] = _callables(or_filters, "or_filters")
        self.not_filters: list[Filter] = _callables(not_filters, "not_filters")
        self.adjustments: list[Adjustment] = _callables(adjustments, "adjustments")

    @property
    def start_date(self) -> datetime | None:
        """The earliest start date of the clocks (``None`` when none has one)."""
        return min((c.start_date for c in self.clocks if c.start_date), default=None)

    @property
    def end_date(self) -> datetime | None:
        """The latest end date of the clocks (``None`` when none has one)."""
        return max((c.end_date for c in self.clocks if c.end_date), default=None)

    def _passes(self, dt: datetime) -> bool:
        if not all(f(dt) for f in self.filters):
            return False
        if self.or_filters and not any(f(dt) for f in self.or_filters):
            return False
        return not any(f(dt) for f in self.not_filters)

    def emit_events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the schedule's events after ``after`` (default now), in time order.

        Unbounded when a clock is; stops after :data:`MAX_EVENTS_CHECKED` clock events.
        """
        merged = heapq.merge(*(clock.events(after=after) for clock in self.clocks))
        previous: ClockEvent | None = None
        for checked, event in enumerate(merged, start=1):
            if checked > MAX_EVENTS_CHECKED:
                return
            if previous is not None and event == previous:
                continue
            previous = event
            if not self._passes(event.start_time):
                continue
            when = event.start_time
            for adjust in self.adjustments:
                when = adjust(when)
            yield ClockEvent(when, event.parameter_defaults, event.labels)

    @overload
    def next(
        self, n: int, after: datetime | None = None, return_events: Literal[False] = False
    ) -> list[datetime]: ...

    @overload
    def next(
        self, n: int, after: datetime | None = None, *, return_events: Literal[True]
    ) -> list[ClockEvent]: ...

    @overload
    def next(
        self, n: int, after: datetime | None, return_events: bool
    ) -> list[datetime] | list[ClockEvent]: ...

    def next(
        self, n: int, after: datetime | None = None, return_events: bool = False
    ) -> list[datetime] | list[ClockEvent]:
        """The next ``n`` scheduled times strictly after ``after`` (default now).

        Args:
            n: how many times at most.
            after: the point to look after; naive datetimes are read as UTC.
            return_events: return :class:`ClockEvent` objects (start time, parameter
                defaults, labels) instead of datetimes.

        Returns:
            Up to ``n`` times in ascending order (fewer when the schedule ends).

        Raises:
            ValueError: when ``n`` is not a non-negative integer.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}.")
        events: list[ClockEvent] = []
        if n:
            for event in self.emit_events(after=after):
                events.append(event)
                if len(events) >= n:
                    break
        if return_events:
            return events
        return [e.start_time for e in events]

    def to_ref(self) -> dict[str, Any]:
        """The JSON form of this schedule (see :func:`schedule_from_ref`).

        Raises:
            ValueError: when a clock, filter or adjustment has no JSON form.
        """
        # deferred: references build schedules, so _refs imports this module.
        from headwater.schedules._refs import schedule_to_ref

        return schedule_to_ref(self)

    def __repr__(self) -> str:
        return f"<Schedule: {len(self.clocks)} clock(s)>"


# Capitalised functions, as in Prefect 1: they build a Schedule, they are not classes.
def IntervalSchedule(
    start_date: datetime | None = None,
    interval: timedelta | None = None,
    end_date: datetime | None = None,
) -> Schedule:
    """A schedule firing every ``interval`` from ``start_date`` (one IntervalClock).

    Raises:
        TypeError: when ``interval`` is missing or not a timedelta.
        ValueError: when ``interval`` is not positive.
    """
    if interval is None:
        raise TypeError("IntervalSchedule needs an interval (a timedelta).")
    return Schedule(clocks=[IntervalClock(interval, start_date=start_date, end_date=end_date)])


def CronSchedule(
    cron: str,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    day_or: bool | None = None,
) -> Schedule:
    """A schedule firing when a cron expression matches (one CronClock).

    Raises:
        ValueError: when the cron expression is invalid.
    """
    return Schedule(
        clocks=[CronClock(cron, start_date=start_date, end_date=end_date, day_or=day_or)]
    )


def RRuleSchedule(
    rrule_obj: Any, start_date: datetime | None = None, end_date: datetime | None = None
) -> Schedule:
    """A schedule firing at a ``dateutil.rrule`` rule's times (one RRuleClock).

    Raises:
        TypeError: when ``rrule_obj`` is not a dateutil rule.
    """
    return Schedule(clocks=[RRuleClock(rrule_obj, start_date=start_date, end_date=end_date)])
