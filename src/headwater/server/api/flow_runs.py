"""Routes: flow runs (create, read, query, rename, labels, cancel, delete, heartbeat,
state, history, children)."""

from __future__ import annotations

from fastapi import APIRouter, Body, Query, Response, status

from headwater.server import orchestration
from headwater.server.api.dependencies import DbDep, SettingsDep
from headwater.server.models import flow_runs
from headwater.server.models.errors import NotFound
from headwater.server.schemas import api as schemas

__all__ = ["router"]

router = APIRouter(tags=["flow runs"])

_INT32 = 2**31 - 1


@router.post("/flow-runs", status_code=status.HTTP_201_CREATED, response_model=schemas.FlowRun)
async def create_flow_run(
    body: schemas.FlowRunCreate, db: DbDep, settings: SettingsDep, response: Response
) -> object:
    """Create a flow run (201), or return the existing one for a repeated key (200)."""
    async with db.session() as session:
        run, created = await flow_runs.create_flow_run(
            session, **body.model_dump(), max_depth=settings.max_run_depth
        )
        await session.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return run


@router.post(
    "/flow-runs/bulk", status_code=status.HTTP_201_CREATED, response_model=list[schemas.FlowRun]
)
async def create_flow_runs(
    body: schemas.FlowRunsCreate, db: DbDep, settings: SettingsDep
) -> object:
    """Create many flow runs in one transaction, in order; repeated keys give existing runs.

    Any invalid item fails the whole request (nothing is created) with a detail naming
    its position, so a retry of the same body is always safe.
    """
    async with db.session() as session:
        answers = await flow_runs.create_flow_runs(
            session,
            [spec.model_dump() for spec in body.flow_runs],
            max_depth=settings.max_run_depth,
        )
        await session.commit()
    return [run for run, _ in answers]


@router.get("/flow-runs", response_model=list[schemas.FlowRun])
async def list_flow_runs(
    db: DbDep,
    flow_id: str | None = None,
    flow_group_id: str | None = None,
    flow_name: str | None = None,
    project_name: str | None = None,
    state: list[str] | None = Query(None),
    label: list[str] | None = Query(None),
    parent_flow_run_id: str | None = None,
    name: str | None = None,
    scheduled_before: schemas.UTCDateTime | None = None,
    scheduled_after: schemas.UTCDateTime | None = None,
    created_after: schemas.UTCDateTime | None = None,
    created_before: schemas.UTCDateTime | None = None,
    auto_scheduled: bool | None = None,
    upcoming: bool = False,
    limit: int = Query(200, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=10**9),
) -> object:
    """Flow runs matching every filter, newest first.

    ``upcoming=true``: only runs still Scheduled for a later time, soonest first.
    """
    async with db.read_session() as session:
        return await flow_runs.read_flow_runs(
            session,
            flow_id=flow_id,
            flow_group_id=flow_group_id,
            flow_name=flow_name,
            project_name=project_name,
            states=state,
            labels=label,
            parent_flow_run_id=parent_flow_run_id,
            name=name,
            scheduled_before=scheduled_before,
            scheduled_after=scheduled_after,
            created_after=created_after,
            created_before=created_before,
            auto_scheduled=auto_scheduled,
            upcoming=upcoming,
            limit=limit,
            offset=offset,
        )


@router.get("/flow-runs/{flow_run_id}", response_model=schemas.FlowRun)
async def read_flow_run(flow_run_id: str, db: DbDep) -> object:
    """One flow run."""
    async with db.read_session() as session:
        run = await flow_runs.read_flow_run(session, flow_run_id)
    if run is None:
        raise NotFound(f"Flow run {flow_run_id} not found.")
    return run


@router.post("/flow-runs/{flow_run_id}/name", response_model=schemas.FlowRun)
async def set_flow_run_name(flow_run_id: str, body: schemas.NameUpdate, db: DbDep) -> object:
    """Rename a flow run."""
    async with db.session() as session:
        run = await flow_runs.set_flow_run_name(session, flow_run_id, body.name)
        await session.commit()
        return run


@router.post("/flow-runs/{flow_run_id}/labels", response_model=schemas.FlowRun)
async def set_flow_run_labels(flow_run_id: str, body: schemas.LabelsUpdate, db: DbDep) -> object:
    """Replace a flow run's labels."""
    async with db.session() as session:
        run = await flow_runs.set_flow_run_labels(session, flow_run_id, body.labels)
        await session.commit()
        return run


@router.post("/flow-runs/{flow_run_id}/cancel", response_model=schemas.CancelResult)
async def cancel_flow_run(
    flow_run_id: str,
    db: DbDep,
    body: schemas.CancelRequest | None = Body(None),
) -> schemas.CancelResult:
    """Cancel a run (and its unfinished children unless ``cascade`` is false)."""
    cascade = True if body is None else body.cascade
    async with db.session() as session:
        outcome = await orchestration.cancel_flow_run(session, flow_run_id, cascade=cascade)
        await session.commit()
    return schemas.CancelResult(
        state=outcome.state,
        flow_run=schemas.FlowRun.model_validate(outcome.flow_run),
        cancelled=outcome.cancelled,
    )


@router.delete("/flow-runs/{flow_run_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_flow_run(flow_run_id: str, db: DbDep) -> Response:
    """Delete a flow run with its task runs, states and logs."""
    async with db.session() as session:
        await flow_runs.delete_flow_run(session, flow_run_id)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/flow-runs/{flow_run_id}/heartbeat", status_code=status.HTTP_204_NO_CONTENT)
async def heartbeat(flow_run_id: str, db: DbDep) -> Response:
    """Record that the run's process is alive."""
    async with db.session() as session:
        await flow_runs.update_heartbeat(session, flow_run_id)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/flow-runs/{flow_run_id}/state", response_model=schemas.StateResult)
async def set_flow_run_state(
    flow_run_id: str, body: schemas.StateSet, db: DbDep
) -> schemas.StateResult:
    """Propose a state; rejected by the rules with a reason, 409 on a stale version."""
    async with db.session() as session:
        result = await orchestration.set_flow_run_state(
            session,
            flow_run_id,
            body.state,
            expected_version=body.expected_version,
            agent_id=body.agent_id,
        )
        await session.commit()
    return schemas.StateResult(
        status=result.status, state=result.state, version=result.version, detail=result.detail
    )


@router.get("/flow-runs/{flow_run_id}/states", response_model=list[schemas.StateHistoryEntry])
async def read_flow_run_states(flow_run_id: str, db: DbDep) -> object:
    """The run's state history, oldest first."""
    async with db.read_session() as session:
        return await flow_runs.read_flow_run_states(session, flow_run_id)


@router.get("/flow-runs/{flow_run_id}/children", response_model=list[schemas.FlowRun])
async def read_children(flow_run_id: str, db: DbDep, recursive: bool = False) -> object:
    """Runs created by this run (all descendants with ``recursive=true``)."""
    async with db.read_session() as session:
        return await flow_runs.read_children(session, flow_run_id, recursive=recursive)
