"""The flow page's schedule panel: the schedule, its switch, and the runs it made.

Contract: :func:`schedule_panel` returns what ``_group_schedule.html`` shows about a flow
group's schedule, all read from the database through the models the API uses: the
schedule the group follows and where it comes from, whether it is switched on, the
late-run policy, whether the server creates scheduled runs at all, and the upcoming runs
exactly as the scheduler created them (auto-scheduled, still ``Scheduled``, due later;
soonest first, at most :data:`UPCOMING_SHOWN`, with the total). Nothing is computed
here: a run appears once the scheduler made it and disappears once it is removed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.models import flow_runs, schedules

__all__ = ["UPCOMING_SHOWN", "schedule_panel"]

#: The upcoming runs listed on the flow page.
UPCOMING_SHOWN = 10


async def schedule_panel(session: AsyncSession, group_id: str, settings: Any) -> dict[str, Any]:
    """What the flow page shows about the group's schedule.

    Raises:
        NotFound: no such flow group.
    """
    info = await schedules.schedule_info(session, group_id)
    upcoming = await flow_runs.read_flow_runs(
        session,
        flow_group_id=group_id,
        auto_scheduled=True,
        upcoming=True,
        limit=UPCOMING_SHOWN,
    )
    fr = orm.FlowRun
    total = (
        await session.execute(
            select(func.count()).where(
                fr.flow_group_id == group_id,
                fr.auto_scheduled.is_(True),
                fr.state_type == "Scheduled",
                fr.scheduled_start_time > orm.utcnow(),
            )
        )
    ).scalar_one()
    return {
        "group_id": group_id,
        "schedule": info["schedule"],
        "source": info["source"],
        "active": info["is_schedule_active"],
        "late_runs": info["late_runs"],
        "late_runs_max_age": info["late_runs_max_age"],
        "scheduling_on": schedules.scheduling_on(settings),
        "upcoming": upcoming,
        "upcoming_total": int(total),
    }
