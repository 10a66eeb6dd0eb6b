"""Filters: predicates on a candidate time, used by a :class:`~headwater.schedules.Schedule`.

Contract:
    A filter is any callable ``(datetime) -> bool``. The functions here test the time in
    its own time zone (the clock's), as Prefect 1 did. The factories (``on_datetime``,
    ``at_time``, ``between_*``, ``is_day_of_week``, ``on_date``) return a
    :class:`NamedFilter` that remembers how it was built, so a schedule using only these
    filters can be written to JSON and read back (``Schedule.to_ref``).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from headwater.schedules.clocks import as_aware

__all__ = [
    "NamedFilter",
    "at_time",
    "between_dates",
    "between_datetimes",
    "between_times",
    "is_day_of_week",
    "is_month_end",
    "is_month_start",
    "is_weekday",
    "is_weekend",
    "on_date",
    "on_datetime",
]


class NamedFilter:
    """A filter built by a factory of this module, callable as ``(datetime) -> bool``.

    Attributes:
        name: the factory's name, e.g. ``"between_times"``.
        kwargs: the JSON-safe arguments the factory was called with.
    """

    def __init__(self, name: str, kwargs: dict[str, Any], fn: Callable[[datetime], bool]):
        self.name = name
        self.kwargs = kwargs
        self._fn = fn

    def __call__(self, dt: datetime) -> bool:
        return self._fn(dt)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"filters.{self.name}({args})"


def _check(value: Any, kind: type | tuple[type, ...], name: str) -> None:
    if not isinstance(value, kind):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise TypeError(f"{name} must be a {expected}, got {type(value).__name__}: {value!r}.")


def on_datetime(dt: datetime) -> NamedFilter:
    """Pass only the exact datetime ``dt``.

    Raises:
        TypeError: when ``dt`` is not a datetime.
    """
    _check(dt, datetime, "dt")
    target = as_aware(dt, "dt")
    return NamedFilter("on_datetime", {"dt": target.isoformat()}, lambda d: as_aware(d) == target)


def on_date(month: int, day: int) -> NamedFilter:
    """Pass times on the given month and day of any year.

    Raises:
        ValueError: when the month/day pair does not exist.
    """
    _valid_month_day(month, day)
    return NamedFilter(
        "on_date", {"month": month, "day": day}, lambda d: (d.month, d.day) == (month, day)
    )


def at_time(t: time) -> NamedFilter:
    """Pass times whose local time of day equals ``t``.

    Raises:
        TypeError: when ``t`` is not a ``datetime.time``.
    """
    _check(t, time, "t")
    bare = t.replace(tzinfo=None)
    return NamedFilter("at_time", {"t": bare.isoformat()}, lambda d: d.time() == bare)


def is_weekday(dt: datetime) -> bool:
    """True Monday to Friday."""
    return dt.weekday() < 5


def is_weekend(dt: datetime) -> bool:
    """True on Saturday and Sunday."""
    return dt.weekday() >= 5


def is_month_start(dt: datetime) -> bool:
    """True on the first day of a month."""
    return dt.day == 1


def is_month_end(dt: datetime) -> bool:
    """True on the last day of a month."""
    return (dt + timedelta(days=1)).month != dt.month


def is_day_of_week(day_of_week: int) -> NamedFilter:
    """Pass times on one day of the week: Monday is 0, Sunday 6.

    Raises:
        ValueError: when ``day_of_week`` is not 0-6.
    """
    if (
        isinstance(day_of_week, bool)
        or not isinstance(day_of_week, int)
        or not 0 <= day_of_week <= 6
    ):
        raise ValueError(f"day_of_week must be 0 (Monday) to 6 (Sunday), got {day_of_week!r}.")
    return NamedFilter(
        "is_day_of_week", {"day_of_week": day_of_week}, lambda d: d.weekday() == day_of_week
    )


def between_datetimes(start: datetime, end: datetime) -> NamedFilter:
    """Pass times from ``start`` to ``end``, both included.

    Raises:
        TypeError: when either bound is not a datetime.
    """
    _check(start, datetime, "start")
    _check(end, datetime, "end")
    lo, hi = as_aware(start, "start"), as_aware(end, "end")
    return NamedFilter(
        "between_datetimes",
        {"start": lo.isoformat(), "end": hi.isoformat()},
        lambda d: lo <= as_aware(d) <= hi,
    )


def between_times(start: time, end: time) -> NamedFilter:
    """Pass times of day from ``start`` to ``end`` (both included); wraps past midnight.

    ``between_times(time(22), time(2))`` passes 22:00 to 02:00.

    Raises:
        TypeError: when either bound is not a ``datetime.time``.
    """
    _check(start, time, "start")
    _check(end, time, "end")
    lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)

    def _fn(d: datetime) -> bool:
        t = d.time()
        return lo <= t <= hi if lo <= hi else (t >= lo or t <= hi)

    return NamedFilter("between_times", {"start": lo.isoformat(), "end": hi.isoformat()}, _fn)


def between_dates(start_month: int, start_day: int, end_month: int, end_day: int) -> NamedFilter:
    """Pass days of the year from one month/day to another (both included); wraps at
    the year's end, so ``between_dates(12, 1, 1, 31)`` passes December and January.

    Raises:
        ValueError: when a month/day pair does not exist.
    """
    _valid_month_day(start_month, start_day)
    _valid_month_day(end_month, end_day)
    lo, hi = (start_month, start_day), (end_month, end_day)

    def _fn(d: datetime) -> bool:
        md = (d.month, d.day)
        return lo <= md <= hi if lo <= hi else (md >= lo or md <= hi)

    return NamedFilter(
        "between_dates",
        {
            "start_month": start_month,
            "start_day": start_day,
            "end_month": end_month,
            "end_day": end_day,
        },
        _fn,
    )


def _valid_month_day(month: int, day: int) -> None:
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"month must be 1-12, got {month!r}.")
    # a leap year, so 29 February is a valid day
    last = calendar.monthrange(2024, month)[1]
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= last:
        raise ValueError(f"day must be 1-{last} for month {month}, got {day!r}.")


def from_ref(name: str, kwargs: dict[str, Any]) -> NamedFilter:
    """Rebuild a :class:`NamedFilter` from its name and JSON arguments.

    Raises:
        ValueError: when ``name`` is not a filter factory of this module.
    """
    parse: dict[str, Callable[[Any], Any]] = {
        "dt": datetime.fromisoformat,
        "t": time.fromisoformat,
    }
    factories: dict[str, Callable[..., NamedFilter]] = {
        "on_datetime": on_datetime,
        "on_date": on_date,
        "at_time": at_time,
        "is_day_of_week": is_day_of_week,
        "between_datetimes": between_datetimes,
        "between_times": between_times,
        "between_dates": between_dates,
    }
    if name not in factories:
        raise ValueError(f"unknown schedule filter {name!r}.")
    if name == "between_datetimes":
        parse = {"start": datetime.fromisoformat, "end": datetime.fromisoformat}
    elif name == "between_times":
        parse = {"start": time.fromisoformat, "end": time.fromisoformat}
    args = {k: parse.get(k, _same)(v) for k, v in kwargs.items()}
    return factories[name](**args)


def _same(value: Any) -> Any:
    return value
