"""Adjustments: functions ``(datetime) -> datetime`` applied to the times that pass a
schedule's filters, in order.

Contract:
    ``add(interval)`` returns a :class:`NamedAdjustment` that remembers its interval and
    :func:`next_weekday` is a plain function; both can be written to JSON by
    ``Schedule.to_ref``. Any other callable works too but cannot be serialized.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

__all__ = ["NamedAdjustment", "add", "next_weekday"]


class NamedAdjustment:
    """An adjustment built by a factory of this module.

    Attributes:
        name: the factory's name (``"add"``).
        kwargs: the JSON-safe arguments it was built with.
    """

    def __init__(self, name: str, kwargs: dict[str, Any], fn: Callable[[datetime], datetime]):
        self.name = name
        self.kwargs = kwargs
        self._fn = fn

    def __call__(self, dt: datetime) -> datetime:
        return self._fn(dt)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"adjustments.{self.name}({args})"


def add(interval: timedelta) -> NamedAdjustment:
    """Shift each time by ``interval`` (whole days keep the local wall-clock time).

    Raises:
        TypeError: when ``interval`` is not a timedelta.
    """
    if not isinstance(interval, timedelta):
        raise TypeError(f"interval must be a timedelta, got {type(interval).__name__}.")
    return NamedAdjustment("add", {"interval": interval.total_seconds()}, lambda dt: dt + interval)


def next_weekday(dt: datetime) -> datetime:
    """Move a Saturday or Sunday to the following Monday (same time); keep weekdays."""
    while dt.weekday() >= 5:
        dt = dt + timedelta(days=1)
    return dt


def from_ref(name: str, kwargs: dict[str, Any]) -> NamedAdjustment:
    """Rebuild a :class:`NamedAdjustment` from its name and JSON arguments.

    Raises:
        ValueError: when ``name`` is not an adjustment factory of this module.
    """
    if name != "add":
        raise ValueError(f"unknown schedule adjustment {name!r}.")
    return add(timedelta(seconds=float(kwargs["interval"])))
