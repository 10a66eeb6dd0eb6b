"""The flow page's schedule panel: what the flow's schedule is and its next runs.

Contract: :func:`schedule_panel` returns what the template shows about a flow group's
schedule: the flow's own schedule (from its serialized form), whether the server's
scheduler serves it, and the next start times. It reads the scheduler's state where the
server has one and otherwise computes upcoming times from the stored clocks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm

__all__ = ["schedule_panel", "upcoming_times"]


def upcoming_times(schedule: Any, *, now: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """The next ``count`` start times of a serialized schedule's clocks (best effort).

    Interval clocks (``interval`` seconds from ``start_date``) and cron clocks (``cron``,
    evaluated in UTC) are understood; anything else yields no times.
    """
    if not isinstance(schedule, dict):
        return []
    clocks = schedule.get("clocks") or []
    times: list[dt.datetime] = []
    for clock in clocks if isinstance(clocks, list) else []:
        if not isinstance(clock, dict):
            continue
        try:
            times.extend(_clock_times(clock, now, count))
        except (ValueError, TypeError, KeyError):
            continue
    return sorted(set(times))[:count]


def _parse(value: Any) -> dt.datetime | None:
    if isinstance(value, dict):
        value = value.get("dt") or value.get("value")
    if not isinstance(value, str):
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def _clock_times(clock: dict[str, Any], now: dt.datetime, count: int) -> list[dt.datetime]:
    end = _parse(clock.get("end_date"))
    out: list[dt.datetime] = []
    if clock.get("interval") is not None:
        interval = float(clock["interval"])
        if interval <= 0:
            return []
        start = _parse(clock.get("start_date")) or now
        if start < now:
            steps = int((now - start).total_seconds() // interval) + 1
            start = start + dt.timedelta(seconds=steps * interval)
        moment = start
        while len(out) < count and (end is None or moment <= end):
            out.append(moment)
            moment = moment + dt.timedelta(seconds=interval)
    elif isinstance(clock.get("cron"), str):
        from croniter import croniter

        start = max(_parse(clock.get("start_date")) or now, now)
        it = croniter(clock["cron"], start)
        while len(out) < count:
            moment = it.get_next(dt.datetime)
            if end is not None and moment > end:
                break
            out.append(moment)
    return out


async def schedule_panel(session: AsyncSession, group: orm.FlowGroup) -> dict[str, Any]:
    """What the flow page shows about the group's schedule."""
    from sqlalchemy import select

    flow = (
        await session.execute(
            select(orm.Flow)
            .where(orm.Flow.flow_group_id == group.id, orm.Flow.archived.is_(False))
            .order_by(orm.Flow.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    schedule = (flow.serialized_flow or {}).get("schedule") if flow is not None else None
    active = (group.settings or {}).get("schedule_active")
    return {
        "schedule": schedule,
        "active": active,
        "toggle_available": False,
        "upcoming": upcoming_times(schedule, now=dt.datetime.now(dt.UTC)) if schedule else [],
    }
