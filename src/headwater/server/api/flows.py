"""Routes: flows (registered versions) and flow groups."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response, status

from headwater.server.api.dependencies import DbDep, SettingsDep
from headwater.server.api.schedules import scheduling_on
from headwater.server.models import flows, schedules
from headwater.server.models.errors import InvalidInput, NotFound
from headwater.server.schemas import api as schemas

__all__ = ["router"]

router = APIRouter(tags=["flows"])


@router.post("/flows", status_code=status.HTTP_201_CREATED, response_model=schemas.Flow)
async def register_flow(
    body: schemas.FlowCreate, db: DbDep, settings: SettingsDep, response: Response
) -> object:
    """Register a new version (201), or return the existing one for a repeated key (200).

    The group's scheduled runs follow the new version in the same transaction; with the
    schedule on, a required parameter that no clock can fill is refused (422).
    """
    async with db.session() as session:
        flow, created = await flows.register_flow(session, **body.model_dump())
        if created:
            await schedules.reconcile(session, flow.flow_group_id, create=scheduling_on(settings))
        await session.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return flow


@router.get("/flows", response_model=list[schemas.Flow])
async def list_flows(
    db: DbDep,
    name: str | None = None,
    project_name: str | None = None,
    archived: bool | None = None,
    flow_group_id: str | None = None,
    order: Literal["version", "created"] = "version",
    limit: int | None = Query(None, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=10**9),
) -> object:
    """Flow versions matching the filters, newest first."""
    async with db.read_session() as session:
        return await flows.read_flows(
            session,
            name=name,
            project_name=project_name,
            archived=archived,
            flow_group_id=flow_group_id,
            order=order,
            limit=limit,
            offset=offset,
        )


@router.get("/flows/{flow_id}", response_model=schemas.Flow)
async def read_flow(flow_id: str, db: DbDep) -> object:
    """One flow version."""
    async with db.read_session() as session:
        flow = await flows.read_flow(session, flow_id)
    if flow is None:
        raise NotFound(f"Flow {flow_id} not found.")
    return flow


@router.post("/flows/{flow_id}/archive", response_model=schemas.Flow)
async def archive_flow(flow_id: str, db: DbDep, settings: SettingsDep) -> object:
    """Archive a flow version; the group's scheduled runs follow in the same transaction."""
    async with db.session() as session:
        flow = await flows.archive_flow(session, flow_id)
        try:
            await schedules.reconcile(session, flow.flow_group_id, create=scheduling_on(settings))
        except InvalidInput:
            # An older version with a schedule that cannot run: archiving still works,
            # and no runs are created for it.
            await schedules.reconcile(session, flow.flow_group_id, create=False, check=False)
        await session.commit()
        return flow


@router.get("/flow-groups/{flow_group_id}", response_model=schemas.FlowGroup)
async def read_flow_group(flow_group_id: str, db: DbDep) -> object:
    """A flow group (settings shared by all versions)."""
    async with db.read_session() as session:
        group = await flows.read_flow_group(session, flow_group_id)
    if group is None:
        raise NotFound(f"Flow group {flow_group_id} not found.")
    return group


@router.patch("/flow-groups/{flow_group_id}", response_model=schemas.FlowGroup)
async def update_flow_group(flow_group_id: str, body: schemas.FlowGroupUpdate, db: DbDep) -> object:
    """Change a flow group's labels, default parameters or run config (fields given only)."""
    async with db.session() as session:
        group = await flows.update_flow_group(
            session, flow_group_id, **body.model_dump(exclude_unset=True)
        )
        await session.commit()
        return group
