"""Routes: task runs (get-or-create, one or in bulk; read, query; state, one or batched;
history) and their results."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from headwater.server import orchestration
from headwater.server.api.dependencies import DbDep, ResultsDep, SettingsDep
from headwater.server.models import task_runs
from headwater.server.models.errors import NotFound, TooLarge
from headwater.server.schemas import api as schemas

__all__ = ["router"]

router = APIRouter(tags=["task runs"])


@router.post("/task-runs", status_code=status.HTTP_201_CREATED, response_model=schemas.TaskRun)
async def get_or_create_task_run(
    body: schemas.TaskRunCreate, db: DbDep, response: Response
) -> object:
    """The task run for (flow run, slug, map index): 201 when new, 200 when it existed."""
    async with db.session() as session:
        task_run, created = await task_runs.get_or_create_task_run(
            session,
            flow_run_id=body.flow_run_id,
            task_slug=body.task_slug,
            map_index=body.map_index,
            task_name=body.task_name,
        )
        await session.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return task_run


@router.post("/task-runs/bulk", response_model=list[schemas.TaskRun])
async def get_or_create_task_runs(body: schemas.TaskRunsCreate, db: DbDep) -> object:
    """Many task runs of one flow run, created Pending where missing; in request order."""
    async with db.session() as session:
        rows = await task_runs.get_or_create_task_runs(
            session,
            flow_run_id=body.flow_run_id,
            keys=[(k.task_slug, k.map_index, k.task_name) for k in body.task_runs],
        )
        await session.commit()
    return rows


@router.post("/task-runs/states", response_model=schemas.TaskRunStatesResult)
async def set_task_run_states(
    body: schemas.TaskRunStates, db: DbDep, store: ResultsDep, settings: SettingsDep
) -> Response:
    """Apply many task-run states (and base64 results) in order, with per-item outcomes.

    Each item passes the same rules as ``POST /task-runs/{id}/state``; an item that cannot
    be applied is reported with the status code the single route would have used, and
    does not stop the others.
    """
    items: list[orchestration.StateItem] = []
    undecodable: dict[int, str] = {}
    for index, item in enumerate(body.states):
        data: bytes | None = None
        if item.result is not None:
            try:
                data = base64.b64decode(item.result, validate=True)
            except (binascii.Error, ValueError):
                undecodable[index] = "The result is not valid base64."
                continue
        items.append(
            orchestration.StateItem(
                task_run_id=item.task_run_id,
                state=item.state,
                expected_version=item.expected_version,
                result=data,
            )
        )
    async with db.session() as session:
        outcomes = await orchestration.set_task_run_states(
            session, items, store=store, max_result_bytes=settings.max_result_bytes
        )
        await session.commit()
    applied = iter(outcomes)
    results: list[dict[str, Any]] = []
    for index, item in enumerate(body.states):
        if index in undecodable:
            results.append(
                {
                    "task_run_id": item.task_run_id,
                    "status": "error",
                    "state": None,
                    "version": None,
                    "detail": undecodable[index],
                    "status_code": 422,
                }
            )
            continue
        outcome = next(applied)
        results.append(
            {
                "task_run_id": outcome.task_run_id,
                "status": outcome.status,
                "state": outcome.state,
                "version": outcome.version,
                "detail": outcome.detail,
                "status_code": outcome.status_code,
            }
        )
    # Plain JSON: thousands of outcomes of a known shape need no per-item validation.
    return JSONResponse({"results": results})


@router.get("/task-runs", response_model=list[schemas.TaskRun])
async def list_task_runs(
    db: DbDep,
    flow_run_id: str | None = None,
    task_slug: str | None = None,
    map_index: int | None = Query(None, ge=-1, lt=2**31),
    state: list[str] | None = Query(None),
    flow_id: str | None = None,
    flow_group_id: str | None = None,
    cache_key: str | None = Query(None, max_length=1000),
    state_after: schemas.UTCDateTime | None = None,
    sort: Literal["slug", "newest"] = "slug",
    limit: int | None = Query(None, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=10**9),
) -> object:
    """Task runs matching the filters, by (task_slug, map_index) or newest state first."""
    async with db.read_session() as session:
        return await task_runs.read_task_runs(
            session,
            flow_run_id=flow_run_id,
            task_slug=task_slug,
            map_index=map_index,
            states=state,
            flow_id=flow_id,
            flow_group_id=flow_group_id,
            cache_key=cache_key,
            state_after=state_after,
            sort=sort,
            limit=limit,
            offset=offset,
        )


@router.get("/task-runs/{task_run_id}", response_model=schemas.TaskRun)
async def read_task_run(task_run_id: str, db: DbDep) -> object:
    """One task run."""
    async with db.read_session() as session:
        task_run = await task_runs.read_task_run(session, task_run_id)
    if task_run is None:
        raise NotFound(f"Task run {task_run_id} not found.")
    return task_run


@router.post("/task-runs/{task_run_id}/state", response_model=schemas.StateResult)
async def set_task_run_state(
    task_run_id: str, body: schemas.StateSet, db: DbDep
) -> schemas.StateResult:
    """Propose a state; rejected by the rules with a reason, 409 on a stale version."""
    async with db.session() as session:
        result = await orchestration.set_task_run_state(
            session, task_run_id, body.state, expected_version=body.expected_version
        )
        await session.commit()
    return schemas.StateResult(
        status=result.status, state=result.state, version=result.version, detail=result.detail
    )


@router.get("/task-runs/{task_run_id}/states", response_model=list[schemas.StateHistoryEntry])
async def read_task_run_states(task_run_id: str, db: DbDep) -> object:
    """The task run's state history, oldest first."""
    async with db.read_session() as session:
        return await task_runs.read_task_run_states(session, task_run_id)


@router.put(
    "/task-runs/{task_run_id}/result",
    response_model=schemas.ResultLocation,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    },
)
async def upload_result(
    task_run_id: str, request: Request, db: DbDep, store: ResultsDep, settings: SettingsDep
) -> schemas.ResultLocation:
    """Store the task run's serialized result (raw bytes); 413 over the size limit."""
    limit = settings.max_result_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"The result is larger than this server accepts ({limit} bytes); "
                "store it with an explicit Result (for example LocalResult or an fsspec URL)."
            )
        chunks.append(chunk)
    async with db.session() as session:
        location = await task_runs.write_result(session, store, task_run_id, b"".join(chunks))
        await session.commit()
    return schemas.ResultLocation(location=location)


@router.get(
    "/task-runs/{task_run_id}/result",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_result(task_run_id: str, db: DbDep, store: ResultsDep) -> Response:
    """The task run's stored result bytes; 404 when none was uploaded."""
    async with db.read_session() as session:
        data = await task_runs.read_result(session, store, task_run_id)
    return Response(content=data, media_type="application/octet-stream")
