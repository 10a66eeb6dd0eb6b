"""The JSON form of schedules (what ``Flow.serialize()`` stores under ``"schedule"``).

Contract:
    ``schedule_to_ref(s)`` -> ``{"type": "Schedule", "clocks": [...], "filters": [...],
    "or_filters": [...], "not_filters": [...], "adjustments": [...]}``. A clock is
    ``{"type": "IntervalClock" | "CronClock" | "DatesClock" | "RRuleClock", "start_date",
    "end_date", "parameter_defaults", "labels"}`` plus ``interval`` (seconds, float),
    ``cron`` and ``day_or``, ``dates``, or ``rrule`` (RFC 5545 text). Dates are
    ``{"dt": ISO-8601 with offset, "tz": IANA zone name or null}``. A filter or
    adjustment is ``{"fn": "<name>"}`` for the plain functions of
    ``headwater.schedules.filters``/``adjustments`` or ``{"fn": "<factory>", "kwargs":
    {...}}`` for the factories there. ``schedule_from_ref`` only ever resolves names in
    those two modules, so reading a stored schedule never imports arbitrary code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

from headwater.schedules import adjustments as _adjustments
from headwater.schedules import filters as _filters
from headwater.schedules.clocks import (
    Clock,
    CronClock,
    DatesClock,
    IntervalClock,
    RRuleClock,
)
from headwater.schedules.schedules import Schedule

__all__ = ["schedule_from_ref", "schedule_to_ref"]

_PLAIN_FILTERS = ("is_weekday", "is_weekend", "is_month_end", "is_month_start")
_PLAIN_ADJUSTMENTS = ("next_weekday",)


def _date_ref(value: datetime | None) -> dict[str, Any] | None:
    if value is None:
        return None
    tz = value.tzinfo
    name = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if name is None and tz is not None and value.utcoffset() == timedelta(0):
        name = "UTC"
    return {"dt": value.isoformat(), "tz": name if isinstance(name, str) else None}


def _date_from_ref(ref: Any, where: str) -> datetime | None:
    if ref is None:
        return None
    if not isinstance(ref, dict) or not isinstance(ref.get("dt"), str):
        raise ValueError(f"{where}: a date must be {{'dt': ISO text, 'tz': name}}, got {ref!r}.")
    try:
        value = datetime.fromisoformat(ref["dt"])
        if ref.get("tz"):
            value = value.astimezone(ZoneInfo(str(ref["tz"])))
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"{where}: invalid date {ref!r}: {exc}") from None
    return value


def _fn_ref(fn: Any, module: Any, plain: tuple[str, ...], what: str) -> dict[str, Any]:
    named = getattr(module, "NamedFilter", None) or getattr(module, "NamedAdjustment", None)
    if named is not None and isinstance(fn, named):
        return {"fn": fn.name, "kwargs": dict(fn.kwargs)}
    name = getattr(fn, "__name__", None)
    if name in plain and getattr(module, name) is fn:
        return {"fn": name}
    raise ValueError(
        f"schedule {what} {fn!r} has no JSON form: only the functions of "
        f"{module.__name__} can be serialized."
    )


def _fn_from_ref(ref: Any, module: Any, plain: tuple[str, ...], what: str) -> Any:
    if not isinstance(ref, dict) or not isinstance(ref.get("fn"), str):
        raise ValueError(f"a schedule {what} must be {{'fn': name, ...}}, got {ref!r}.")
    name = ref["fn"].rpartition(".")[2]
    if "kwargs" not in ref and name in plain:
        return getattr(module, name)
    kwargs = ref.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ValueError(f"schedule {what} {name!r}: kwargs must be an object, got {kwargs!r}.")
    try:
        return module.from_ref(name, kwargs)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"schedule {what} {name!r}: invalid arguments {kwargs!r}: {exc}") from None


def clock_to_ref(clock: Clock) -> dict[str, Any]:
    """The JSON form of one clock.

    Raises:
        ValueError: for a clock type without a JSON form.
    """
    ref: dict[str, Any] = {"type": type(clock).__name__}
    if isinstance(clock, IntervalClock):
        ref["interval"] = clock.interval.total_seconds()
    elif isinstance(clock, CronClock):
        ref["cron"] = clock.cron
        ref["day_or"] = clock.day_or
    elif isinstance(clock, DatesClock):
        ref["dates"] = [_date_ref(d) for d in clock.dates]
    elif isinstance(clock, RRuleClock):
        if not isinstance(clock.rrule_obj, rrule.rrule):
            raise ValueError("an RRuleClock over an rruleset has no JSON form.")
        ref["rrule"] = str(clock.rrule_obj)
    else:
        raise ValueError(f"clock {clock!r} has no JSON form.")
    ref.update(
        start_date=_date_ref(clock.start_date),
        end_date=_date_ref(clock.end_date),
        parameter_defaults=dict(clock.parameter_defaults),
        labels=clock.labels,
    )
    return ref


def clock_from_ref(ref: Any) -> Clock:
    """Rebuild a clock from :func:`clock_to_ref`'s form.

    Raises:
        ValueError: when the reference is malformed or names an unknown clock type.
    """
    if not isinstance(ref, dict):
        raise ValueError(f"a clock reference must be an object, got {ref!r}.")
    kind = ref.get("type")
    common: dict[str, Any] = {
        "parameter_defaults": ref.get("parameter_defaults") or None,
        "labels": ref.get("labels"),
    }
    dates: dict[str, Any] = {
        "start_date": _date_from_ref(ref.get("start_date"), f"{kind}.start_date"),
        "end_date": _date_from_ref(ref.get("end_date"), f"{kind}.end_date"),
    }
    try:
        if kind == "IntervalClock":
            return IntervalClock(timedelta(seconds=float(ref["interval"])), **dates, **common)
        if kind == "CronClock":
            return CronClock(ref["cron"], **dates, day_or=ref.get("day_or"), **common)
        if kind == "DatesClock":
            values = [_date_from_ref(d, "DatesClock.dates") for d in ref["dates"]]
            return DatesClock([d for d in values if d is not None], **common)
        if kind == "RRuleClock":
            return RRuleClock(rrule.rrulestr(ref["rrule"]), **dates, **common)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid {kind} reference {ref!r}: {exc!r}") from None
    raise ValueError(f"unknown clock type {kind!r}.")


def schedule_to_ref(schedule: Schedule) -> dict[str, Any]:
    """The JSON form of ``schedule`` (see the module docstring).

    Raises:
        ValueError: when a clock, filter or adjustment has no JSON form.
    """

    def filt(fns: list[Any]) -> list[dict[str, Any]]:
        return [_fn_ref(f, _filters, _PLAIN_FILTERS, "filter") for f in fns]

    return {
        "type": "Schedule",
        "clocks": [clock_to_ref(c) for c in schedule.clocks],
        "filters": filt(schedule.filters),
        "or_filters": filt(schedule.or_filters),
        "not_filters": filt(schedule.not_filters),
        "adjustments": [
            _fn_ref(a, _adjustments, _PLAIN_ADJUSTMENTS, "adjustment") for a in schedule.adjustments
        ],
    }


def schedule_from_ref(ref: Any) -> Schedule | None:
    """Rebuild a :class:`Schedule` from its JSON form; ``None`` stays ``None``.

    Raises:
        ValueError: when the reference is malformed.
    """
    if ref is None:
        return None
    if not isinstance(ref, dict) or ref.get("type") != "Schedule":
        raise ValueError(f"a schedule reference must have type 'Schedule', got {ref!r}.")
    clocks = ref.get("clocks")
    if not isinstance(clocks, list) or not clocks:
        raise ValueError("a schedule reference needs a non-empty list of clocks.")

    def filt(key: str) -> list[Any]:
        items = ref.get(key) or []
        if not isinstance(items, list):
            raise ValueError(f"schedule {key} must be a list, got {items!r}.")
        return [_fn_from_ref(f, _filters, _PLAIN_FILTERS, "filter") for f in items]

    adjustments = ref.get("adjustments") or []
    if not isinstance(adjustments, list):
        raise ValueError(f"schedule adjustments must be a list, got {adjustments!r}.")
    return Schedule(
        clocks=[clock_from_ref(c) for c in clocks],
        filters=filt("filters"),
        or_filters=filt("or_filters"),
        not_filters=filt("not_filters"),
        adjustments=[
            _fn_from_ref(a, _adjustments, _PLAIN_ADJUSTMENTS, "adjustment") for a in adjustments
        ],
    )
