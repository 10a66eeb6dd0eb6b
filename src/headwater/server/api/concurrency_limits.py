"""Routes: flow-run concurrency limits by label, task-run limits by tag, slot waits.

Contract (docs/internals/contracts.md section 3):

- ``POST /flow-concurrency-limits`` ``{label, limit}`` creates (201) or updates (200) the
  limit of a label; ``GET /flow-concurrency-limits?label=`` lists them;
  ``GET``/``DELETE /flow-concurrency-limits/{id}`` read or remove one (404 unknown id).
- ``/task-tag-limits`` is the same for task tags (``{tag, limit}``).
- ``GET /task-runs/{id}/wait-for-slot?timeout=30`` is a Queued task run's long-poll: it
  answers at once when the run may start (or is not Queued, or its flow run is not
  Running), otherwise when a task run, flow run or limit changes so that it may, or after
  ``timeout`` seconds (at most 300).
  The answer is a hint: the run still proposes Running, which decides atomically.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from headwater.server.api.dependencies import DbDep
from headwater.server.events import CLOSING, RESYNC, Event, EventBus
from headwater.server.models import concurrency_limits as limits
from headwater.server.models.concurrency_slots import check_task_run_slot
from headwater.server.schemas import concurrency_limits as schemas

__all__ = ["router"]

router = APIRouter(tags=["concurrency limits"])

#: Longest accepted slot wait, in seconds.
MAX_TIMEOUT = 300.0
_WAIT_KINDS = frozenset({"task_run.state", "flow_run.state", "concurrency_limit.updated"})


async def _out(session: Any, kind: Literal["flow", "task"], rows: list[Any]) -> list[Any]:
    key = limits.LIMIT_KINDS[kind].key
    names = [getattr(r, key) for r in rows]
    if kind == "flow":
        usage = await limits.flow_label_usage(session, names)
        return [
            schemas.FlowConcurrencyLimit(
                id=r.id,
                label=r.label,
                limit=r.concurrency_limit,
                running=usage.get(r.label, 0),
                created=r.created,
                updated=r.updated,
            )
            for r in rows
        ]
    usage = await limits.task_tag_usage(session, names)
    return [
        schemas.TaskTagLimit(
            id=r.id,
            tag=r.tag,
            limit=r.concurrency_limit,
            running=usage.get(r.tag, 0),
            created=r.created,
            updated=r.updated,
        )
        for r in rows
    ]


async def _set(
    db: Any, kind: Literal["flow", "task"], name: str, value: int, response: Response
) -> Any:
    async with db.session() as session:
        row, created = await limits.set_limit(session, kind, name, value)
        (out,) = await _out(session, kind, [row])
        await session.commit()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out


async def _list(db: Any, kind: Literal["flow", "task"], name: str | None) -> list[Any]:
    async with db.read_session() as session:
        return await _out(session, kind, await limits.read_limits(session, kind, name))


async def _read(db: Any, kind: Literal["flow", "task"], limit_id: str) -> Any:
    async with db.read_session() as session:
        (out,) = await _out(session, kind, [await limits.read_limit(session, kind, limit_id)])
        return out


async def _delete(db: Any, kind: Literal["flow", "task"], limit_id: str) -> Response:
    async with db.session() as session:
        await limits.delete_limit(session, kind, limit_id)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- flow runs by label ---------------------------------------------------------------


@router.post(
    "/flow-concurrency-limits",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.FlowConcurrencyLimit,
)
async def set_flow_concurrency_limit(
    body: schemas.FlowConcurrencyLimitSet, db: DbDep, response: Response
) -> object:
    """Create (201) or update (200) the flow-run concurrency limit of a label."""
    return await _set(db, "flow", body.label, body.limit, response)


@router.get("/flow-concurrency-limits", response_model=list[schemas.FlowConcurrencyLimit])
async def list_flow_concurrency_limits(
    db: DbDep, label: str | None = Query(None, max_length=255)
) -> object:
    """Every flow concurrency limit (or the one of ``label``), by label."""
    return await _list(db, "flow", label)


@router.get("/flow-concurrency-limits/{limit_id}", response_model=schemas.FlowConcurrencyLimit)
async def read_flow_concurrency_limit(db: DbDep, limit_id: str = Path(max_length=64)) -> object:
    """One flow concurrency limit."""
    return await _read(db, "flow", limit_id)


@router.delete("/flow-concurrency-limits/{limit_id}", status_code=204, response_class=Response)
async def delete_flow_concurrency_limit(db: DbDep, limit_id: str = Path(max_length=64)) -> Response:
    """Remove a flow concurrency limit; its label becomes unlimited."""
    return await _delete(db, "flow", limit_id)


# -- task runs by tag -----------------------------------------------------------------


@router.post(
    "/task-tag-limits", status_code=status.HTTP_201_CREATED, response_model=schemas.TaskTagLimit
)
async def set_task_tag_limit(
    body: schemas.TaskTagLimitSet, db: DbDep, response: Response
) -> object:
    """Create (201) or update (200) the task concurrency limit of a tag."""
    return await _set(db, "task", body.tag, body.limit, response)


@router.get("/task-tag-limits", response_model=list[schemas.TaskTagLimit])
async def list_task_tag_limits(db: DbDep, tag: str | None = Query(None, max_length=255)) -> object:
    """Every task tag limit (or the one of ``tag``), by tag."""
    return await _list(db, "task", tag)


@router.get("/task-tag-limits/{limit_id}", response_model=schemas.TaskTagLimit)
async def read_task_tag_limit(db: DbDep, limit_id: str = Path(max_length=64)) -> object:
    """One task tag limit."""
    return await _read(db, "task", limit_id)


@router.delete("/task-tag-limits/{limit_id}", status_code=204, response_class=Response)
async def delete_task_tag_limit(db: DbDep, limit_id: str = Path(max_length=64)) -> Response:
    """Remove a task tag limit; its tag becomes unlimited."""
    return await _delete(db, "task", limit_id)


# -- waiting for a slot -----------------------------------------------------------------


def _may_free(event: Event) -> bool:
    """Whether ``event`` may free a task slot (or is a broadcast to re-read)."""
    if event.kind in (RESYNC, CLOSING, "concurrency_limit.updated"):
        return True
    state_type = event.data.get("state_type")
    if not isinstance(state_type, str):
        return True  # trimmed: assume it may
    if event.kind == "task_run.state":
        return state_type not in limits.TASK_RUN_SLOT_STATES
    # A finished flow run's task runs hold nothing; a flow run that stopped running
    # (cancelling, say) ends the wait of its own queued task runs.
    return state_type != "Running"


async def _check(db: Any, task_run_id: str) -> schemas.SlotWait:
    async with db.read_session() as session:
        found = await check_task_run_slot(session, task_run_id)
    return schemas.SlotWait(
        available=found.available, state_type=found.state_type, full_tags=found.full_tags
    )


@router.get("/task-runs/{task_run_id}/wait-for-slot", response_model=schemas.SlotWait)
async def wait_for_task_run_slot(
    request: Request,
    db: DbDep,
    task_run_id: str = Path(max_length=64),
    timeout: float = Query(30.0, ge=0, le=MAX_TIMEOUT, description="Seconds to wait."),
) -> schemas.SlotWait:
    """Wait until a Queued task run's limited tags have room, or ``timeout`` seconds."""
    bus: EventBus = request.app.state.events
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with bus.subscribe(kinds=_WAIT_KINDS) as sub:
        while True:
            answer = await _check(db, task_run_id)
            remaining = deadline - loop.time()
            if answer.available or remaining <= 0 or bus.closing:
                return answer
            wait_until = loop.time() + remaining
            while True:
                event = await sub.wait(max(0.0, wait_until - loop.time()))
                if event is None or _may_free(event):
                    break
            sub.drain()
