"""Clocks: the sources of candidate times for a :class:`~headwater.schedules.Schedule`.

Contract:
    A clock's :meth:`Clock.events` yields :class:`ClockEvent` objects in ascending order,
    each strictly after ``after`` (default: now), never after the clock's ``end_date``.
    Every event carries the clock's ``parameter_defaults`` and ``labels``.

    Time zones follow Prefect 1: the ``start_date``'s time zone decides the zone of the
    emitted times (UTC without a start date); naive datetimes are read as UTC.
    :class:`IntervalClock` adds whole days in local wall-clock time (a daily clock keeps
    its hour across daylight-saving changes) and the rest of the interval in elapsed
    time. :class:`CronClock` follows wall-clock times: when clocks are set back, a
    repeated local time fires once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from dateutil import rrule

__all__ = [
    "Clock",
    "ClockEvent",
    "CronClock",
    "DatesClock",
    "IntervalClock",
    "RRuleClock",
]

#: Interval clocks without a start date count from here (as in Prefect 1).
DEFAULT_START = datetime(2019, 1, 1, tzinfo=UTC)


def as_aware(value: datetime, name: str = "date") -> datetime:
    """``value`` as a plain ``datetime`` with a time zone; naive datetimes are read as UTC.

    Raises:
        TypeError: when ``value`` is not a datetime.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}: {value!r}.")
    if type(value) is not datetime:
        # a subclass (pendulum's DateTime) has its own arithmetic; compute with the plain type
        value = datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
            fold=value.fold,
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (naive values are read as UTC)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _now(tz: tzinfo | None = None) -> datetime:
    return datetime.now(tz or UTC)


class ClockEvent:
    """One time emitted by a clock, with the values a flow run at that time receives.

    Events compare (``<``, ``>``, ``==``) with each other and with datetimes by start time;
    two events are equal only when their defaults and labels match too.

    Attributes:
        start_time: when the run is due.
        parameter_defaults: Parameter values for a run at this time.
        labels: labels for a run at this time (``None``: the flow's own).
    """

    __slots__ = ("labels", "parameter_defaults", "start_time")

    def __init__(
        self,
        start_time: datetime,
        parameter_defaults: dict[str, Any] | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self.start_time = start_time
        self.parameter_defaults: dict[str, Any] = dict(parameter_defaults or {})
        self.labels = labels

    # Comparisons go through UTC: two datetimes sharing one tzinfo compare by wall time
    # and ignore ``fold``, which would make the two 01:00s of a night when clocks go back
    # equal (and merge them into one event).
    def _key(self, other: object, op: str) -> datetime:
        if isinstance(other, ClockEvent):
            return _utc(other.start_time)
        if isinstance(other, datetime):
            return _utc(other)
        raise TypeError(f"'{op}' is not supported between ClockEvent and {type(other).__name__}.")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ClockEvent):
            return (
                _utc(self.start_time) == _utc(other.start_time)
                and self.parameter_defaults == other.parameter_defaults
                and self.labels == other.labels
            )
        if isinstance(other, datetime):
            return _utc(self.start_time) == _utc(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_utc(self.start_time))

    def __lt__(self, other: object) -> bool:
        return _utc(self.start_time) < self._key(other, "<")

    def __gt__(self, other: object) -> bool:
        return _utc(self.start_time) > self._key(other, ">")

    def __repr__(self) -> str:
        return (
            f"ClockEvent(start_time={self.start_time.isoformat()!r}, "
            f"parameter_defaults={self.parameter_defaults!r}, labels={self.labels!r})"
        )


class Clock:
    """Base class of clocks.

    Args:
        start_date: no event before this time; its time zone is the clock's zone.
        end_date: no event after this time.
        parameter_defaults: Parameter values for every run on this clock's events.
        labels: labels for every run on this clock's events.

    Raises:
        TypeError: when a date is not a datetime or ``parameter_defaults`` not a dict.
    """

    def __init__(
        self,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict[str, Any] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.start_date = None if start_date is None else as_aware(start_date, "start_date")
        self.end_date = None if end_date is None else as_aware(end_date, "end_date")
        if parameter_defaults is not None and not isinstance(parameter_defaults, dict):
            raise TypeError(
                "parameter_defaults must be a dict of Parameter names to values, got "
                f"{type(parameter_defaults).__name__}."
            )
        if isinstance(labels, str):
            raise TypeError(f"labels must be a list of strings, got the string {labels!r}.")
        self.parameter_defaults: dict[str, Any] = dict(parameter_defaults or {})
        self.labels: list[str] | None = None if labels is None else list(labels)

    @property
    def tz(self) -> tzinfo:
        """The clock's time zone: the start date's, else UTC."""
        return self.start_date.tzinfo if self.start_date is not None else UTC  # type: ignore[return-value]

    def _event(self, when: datetime) -> ClockEvent:
        return ClockEvent(when, self.parameter_defaults, self.labels)

    def _past_end(self, when: datetime) -> bool:
        return self.end_date is not None and _utc(when) > _utc(self.end_date)

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the clock's events after ``after`` (default: now), in order.

        Raises:
            NotImplementedError: on the base class.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement events().")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class IntervalClock(Clock):
    """Fires at ``start_date + k * interval`` for k = 0, 1, 2, ...

    Args:
        interval: the time between events (positive).
        start_date: the first event (default 2019-01-01 00:00 UTC); its zone is kept.
        end_date: no event after this time.
        parameter_defaults: Parameter values for every run on this clock.
        labels: labels for every run on this clock.

    Raises:
        TypeError: when ``interval`` is not a timedelta.
        ValueError: when ``interval`` is not positive.
    """

    def __init__(
        self,
        interval: timedelta,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict[str, Any] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(interval, timedelta):
            raise TypeError(f"interval must be a timedelta, got {type(interval).__name__}.")
        if interval.total_seconds() <= 0:
            raise ValueError(f"interval must be greater than 0, got {interval}.")
        self.interval = interval
        super().__init__(start_date, end_date, parameter_defaults, labels)

    def _nth(self, start: datetime, k: int) -> datetime:
        # Whole days move the wall clock (aware datetime arithmetic keeps local time);
        # the remainder is elapsed time, added in UTC.
        total = self.interval * k
        day_part = start + timedelta(days=total.days)
        rest = total - timedelta(days=total.days)
        if not rest:
            return day_part
        return (day_part.astimezone(UTC) + rest).astimezone(start.tzinfo)

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield events strictly after ``after`` (default: now)."""
        start = self.start_date or DEFAULT_START
        after = _now() if after is None else as_aware(after, "after")
        # Jump close to ``after``, one step early so daylight-saving shifts cannot make
        # the jump overshoot an event; then walk forward.
        k = max(0, math.floor((after - start) / self.interval) - 1)
        while True:
            when = self._nth(start, k)
            k += 1
            if when <= after:
                continue
            if self._past_end(when):
                return
            yield self._event(when)


class CronClock(Clock):
    """Fires at the times a cron expression matches, in the start date's time zone.

    Args:
        cron: a cron expression, e.g. ``"0 6 * * *"``.
        start_date: no event before it; its zone is the zone the expression is read in.
        end_date: no event after this time.
        parameter_defaults: Parameter values for every run on this clock.
        labels: labels for every run on this clock.
        day_or: when both day-of-month and day-of-week are restricted, ``True``
            (default, as cron) fires when either matches, ``False`` only when both do.

    Raises:
        ValueError: when the cron expression is invalid.
    """

    def __init__(
        self,
        cron: str,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict[str, Any] | None = None,
        labels: Sequence[str] | None = None,
        day_or: bool | None = None,
    ) -> None:
        # deferred: croniter costs ~30 ms, paid only by cron clocks.
        from croniter import croniter

        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise ValueError(f"Invalid cron string: {cron!r}.")
        self.cron = cron
        self.day_or = True if day_or is None else bool(day_or)
        super().__init__(start_date, end_date, parameter_defaults, labels)

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield events strictly after ``after`` (default: now), in the clock's zone."""
        # deferred: croniter costs ~30 ms, paid only by cron clocks.
        from croniter import croniter

        tz = self.tz
        after = _now(tz) if after is None else as_aware(after, "after").astimezone(tz)
        if self.start_date is not None and after < self.start_date:
            # One second early so an event exactly at the start date is included.
            after = self.start_date - timedelta(seconds=1)
        itr = croniter(self.cron, after, day_or=self.day_or)
        last_wall: datetime | None = None
        while True:
            when: datetime = itr.get_next(datetime)
            wall = when.replace(tzinfo=None)
            if when <= after or wall == last_wall:
                # a repeated local time (clocks set back) fires only once
                continue
            last_wall = wall
            if self._past_end(when):
                return
            yield self._event(when)


class DatesClock(Clock):
    """Fires on a fixed list of dates.

    Args:
        dates: the dates (at least one).
        parameter_defaults: Parameter values for every run on this clock.
        labels: labels for every run on this clock.

    Raises:
        ValueError: when ``dates`` is empty.
        TypeError: when a date is not a datetime.
    """

    def __init__(
        self,
        dates: Iterable[datetime],
        parameter_defaults: dict[str, Any] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        self.dates = sorted(as_aware(d, "each of dates") for d in dates)
        if not self.dates:
            raise ValueError("DatesClock needs at least one date.")
        super().__init__(self.dates[0], self.dates[-1], parameter_defaults, labels)

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the dates strictly after ``after`` (default: now)."""
        after = _now() if after is None else as_aware(after, "after")
        for when in self.dates:
            if when > after:
                yield self._event(when)


class RRuleClock(Clock):
    """Fires at the times of a ``dateutil.rrule`` recurrence rule.

    Args:
        rrule_obj: a ``dateutil.rrule.rrule`` (or ``rruleset``); naive rule dates are
            read in the start date's time zone (UTC without one).
        start_date: no event before this time.
        end_date: no event after this time.
        parameter_defaults: Parameter values for every run on this clock.
        labels: labels for every run on this clock.

    Raises:
        TypeError: when ``rrule_obj`` is not a dateutil rule.
    """

    def __init__(
        self,
        rrule_obj: Any,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict[str, Any] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(rrule_obj, (rrule.rrule, rrule.rruleset)):
            raise TypeError(
                f"rrule_obj must be a dateutil rrule or rruleset, got {type(rrule_obj).__name__}."
            )
        self.rrule_obj = rrule_obj
        super().__init__(start_date, end_date, parameter_defaults, labels)

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the rule's times strictly after ``after`` (default: now)."""
        tz = self.tz
        after = _now() if after is None else as_aware(after, "after")
        if self.start_date is not None and after < self.start_date:
            after = self.start_date - timedelta(microseconds=1)
        first = next(iter(self.rrule_obj), None)
        if first is None:
            return
        # dateutil compares naive with naive and aware with aware only.
        start = after if first.tzinfo is not None else after.astimezone(tz).replace(tzinfo=None)
        for raw in self.rrule_obj.xafter(start, inc=False):
            when = raw if raw.tzinfo is not None else raw.replace(tzinfo=tz)
            if when <= after:
                continue
            if self._past_end(when):
                return
            yield self._event(when)
