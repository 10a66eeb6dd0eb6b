"""Routes: a flow group's schedule, its switch and late-run policy, backfills.

Every change reconciles the group's scheduled runs in the same transaction (an
immediate scheduler pass), unless the server's scheduler is off
(``scheduler_interval <= 0``), in which case runs are only removed, never created.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from headwater.server.api.dependencies import DbDep, SettingsDep
from headwater.server.models import flows, schedules
from headwater.server.models.errors import NotFound
from headwater.server.models.schedules import scheduling_on
from headwater.server.schemas import api as schemas
from headwater.server.settings import ServerSettings

__all__ = ["router", "scheduling_on"]

router = APIRouter(tags=["schedules"])


async def _info(db: Any, flow_group_id: str) -> dict[str, Any]:
    async with db.read_session() as session:
        return await schedules.schedule_info(session, flow_group_id)


@router.get("/flow-groups/{flow_group_id}/schedule", response_model=schemas.ScheduleInfo)
async def read_schedule(flow_group_id: str, db: DbDep) -> object:
    """The schedule a flow group follows, its switch, late-run policy and next times."""
    return await _info(db, flow_group_id)


@router.put("/flow-groups/{flow_group_id}/schedule", response_model=schemas.ScheduleInfo)
async def set_schedule(
    flow_group_id: str, body: schemas.ScheduleSet, db: DbDep, settings: SettingsDep
) -> object:
    """Give the group its own schedule (wins over the versions'); runs follow at once."""
    async with db.session() as session:
        await schedules.set_group_schedule(session, flow_group_id, body.schedule)
        await schedules.reconcile(
            session, flow_group_id, create=scheduling_on(settings), action="set"
        )
        await session.commit()
    return await _info(db, flow_group_id)


@router.delete("/flow-groups/{flow_group_id}/schedule", response_model=schemas.ScheduleInfo)
async def delete_schedule(flow_group_id: str, db: DbDep, settings: SettingsDep) -> object:
    """Remove the group's own schedule: the newest version's applies again."""
    async with db.session() as session:
        await schedules.set_group_schedule(session, flow_group_id, None)
        await schedules.reconcile(session, flow_group_id, create=scheduling_on(settings))
        await session.commit()
    return await _info(db, flow_group_id)


@router.patch("/flow-groups/{flow_group_id}/schedule", response_model=schemas.ScheduleInfo)
async def update_schedule(
    flow_group_id: str, body: schemas.ScheduleSettingsUpdate, db: DbDep, settings: SettingsDep
) -> object:
    """Switch the schedule on or off and set the late-run policy (fields given only).

    Switching on is refused (422) when a required parameter would have no value.
    """
    async with db.session() as session:
        await schedules.update_schedule_settings(
            session, flow_group_id, **body.model_dump(exclude_unset=True)
        )
        await schedules.reconcile(session, flow_group_id, create=scheduling_on(settings))
        await session.commit()
    return await _info(db, flow_group_id)


@router.post(
    "/flow-groups/{flow_group_id}/schedule/backfill", response_model=schemas.BackfillResult
)
async def backfill(flow_group_id: str, body: schemas.BackfillRequest, db: DbDep) -> object:
    """Create the scheduled runs of ``start <= time <= end``; times with a run keep it."""
    async with db.session() as session:
        created, existing = await schedules.backfill(
            session, flow_group_id, start=body.start, end=body.end
        )
        await session.commit()
        return {"created": created, "existing": existing}


async def _set_active_by_flow(
    flow_id: str, active: bool, db: Any, settings: ServerSettings
) -> dict[str, Any]:
    async with db.session() as session:
        flow = await flows.read_flow(session, flow_id)
        if flow is None:
            raise NotFound(f"Flow {flow_id} not found.")
        group_id = flow.flow_group_id
        await schedules.update_schedule_settings(session, group_id, is_schedule_active=active)
        await schedules.reconcile(session, group_id, create=scheduling_on(settings))
        await session.commit()
    return await _info(db, group_id)


@router.post("/flows/{flow_id}/set-schedule-active", response_model=schemas.ScheduleInfo)
async def set_schedule_active(flow_id: str, db: DbDep, settings: SettingsDep) -> object:
    """Prefect 1's ``set_schedule_active``: switch on the schedule of this flow's group."""
    return await _set_active_by_flow(flow_id, True, db, settings)


@router.post("/flows/{flow_id}/set-schedule-inactive", response_model=schemas.ScheduleInfo)
async def set_schedule_inactive(flow_id: str, db: DbDep, settings: SettingsDep) -> object:
    """Prefect 1's ``set_schedule_inactive``: switch off the schedule of this flow's group."""
    return await _set_active_by_flow(flow_id, False, db, settings)
