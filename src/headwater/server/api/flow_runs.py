"""Routes: flow runs (create, read, query, rename, labels, cancel, delete, heartbeat,
state, history, children), and waiting for one or streaming its events.

Contract of the push routes (docs/internals/contracts.md section 3 and 3.1):

- ``GET /flow-runs/{id}/wait?timeout=30`` returns ``{finished, flow_run}`` as soon as the
  run is finished, or when ``timeout`` seconds (at most 300) have passed.
- ``GET /flow-runs/{id}/events?cursor=&states=true&logs=true`` is a server-sent event
  stream of the run's states (``event: state``) and logs (``event: log``), each with an
  ``id:`` cursor that resumes right after it, then ``event: end`` once the run is finished
  and everything before it was sent. ``: ping`` comments keep idle connections open.

Both subscribe to the event bus *before* reading the database and then wait for an
event, so a change committed between the read and the wait is never missed. Sessions are
never held open across a wait. When the bus begins shutting down, waits answer with what
they have and streams end, so they never hold up a server's exit. They are on
:data:`push_router`, registered after every other router.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from headwater.server import orchestration
from headwater.server.api.dependencies import DbDep, SettingsDep
from headwater.server.database import orm
from headwater.server.events import CLOSING, Event, EventBus
from headwater.server.models import flow_runs, logs
from headwater.server.models.errors import InvalidInput, NotFound
from headwater.server.schemas import api as schemas
from headwater.server.schemas import states as families

__all__ = ["WaitResponse", "push_router", "router"]

router = APIRouter(tags=["flow runs"])
#: The long-poll and the event stream (OpenAPI tag "push").
push_router = APIRouter(tags=["push"])

#: Longest accepted long-poll, in seconds.
MAX_TIMEOUT = 300.0
#: Idle seconds between ``: ping`` comments on an event stream.
PING_INTERVAL = 15.0
#: After a run finishes, logs written up to this many seconds later still precede ``end``.
END_GRACE = 0.25
_LOG_PAGE = 500
_CURSOR = re.compile(r"^(\d{1,12})-(\d{1,19})$")
_RUN_KINDS = frozenset({"flow_run.state", "flow_run.updated"})

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


# -- push: wait and events ----------------------------------------------------------


class WaitResponse(BaseModel):
    """``GET /flow-runs/{id}/wait``."""

    finished: bool
    flow_run: schemas.FlowRun


def _bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.events
    return bus


def _db(request: Request) -> Any:
    return request.app.state.db


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


# -- wait ---------------------------------------------------------------------------


async def _read_run(request: Request, flow_run_id: str) -> schemas.FlowRun:
    async with _db(request).read_session() as session:
        run = await flow_runs.read_flow_run(session, flow_run_id)
        if run is None:
            raise NotFound(f"Flow run {flow_run_id!r} not found.")
        return schemas.FlowRun.model_validate(run)


@push_router.get("/flow-runs/{flow_run_id}/wait", response_model=WaitResponse)
async def wait_for_flow_run(
    request: Request,
    flow_run_id: str = Path(max_length=64),
    timeout: float = Query(30.0, ge=0, le=MAX_TIMEOUT, description="Seconds to wait."),
) -> WaitResponse:
    """Wait until the flow run is finished or ``timeout`` seconds have passed."""
    deadline = _loop_time() + timeout
    async with _bus(request).subscribe(flow_run_id=flow_run_id, kinds=_RUN_KINDS) as sub:
        while True:
            run = await _read_run(request, flow_run_id)
            if families.is_finished(run.state_type):
                return WaitResponse(finished=True, flow_run=run)
            remaining = deadline - _loop_time()
            if remaining <= 0 or _bus(request).closing:
                return WaitResponse(finished=False, flow_run=run)
            event = await sub.wait(remaining)
            while event is not None and _skippable_run_event(event):
                # A non-final state of this run: no need to read it, keep waiting.
                event = await sub.wait(max(0.0, deadline - _loop_time()))
            sub.drain()


def _skippable_run_event(event: Event) -> bool:
    if event.kind == CLOSING:
        return False
    state_type = event.data.get("state_type")
    return (
        event.kind == "flow_run.state"
        and isinstance(state_type, str)
        and not families.is_finished(state_type)
    )


# -- events (SSE) ---------------------------------------------------------------------


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    match = _CURSOR.match(cursor)
    if match is None:
        raise InvalidInput(
            f"Invalid cursor {cursor!r}: pass the id of the last event received "
            "(the form is '<state version>-<log id>')."
        )
    return int(match.group(1)), int(match.group(2))


def _sse(event: str, cursor: str, data: dict[str, Any]) -> str:
    body = json.dumps(data, separators=(",", ":"), default=str)
    return f"event: {event}\nid: {cursor}\ndata: {body}\n\n"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Stream:
    """One client's event stream: what was sent so far is the cursor."""

    def __init__(
        self, request: Request, flow_run_id: str, cursor: tuple[int, int], st: bool, lg: bool
    ) -> None:
        self.request = request
        self.flow_run_id = flow_run_id
        self.version, self.log_id = cursor
        self.states = st
        self.logs = lg

    @property
    def cursor(self) -> str:
        return f"{self.version}-{self.log_id}"

    async def _read(
        self,
    ) -> tuple[orm.FlowRun | None, list[orm.FlowRunState], list[orm.Log]]:
        async with _db(self.request).read_session() as session:
            run = await flow_runs.read_flow_run(session, self.flow_run_id)
            if run is None:
                return None, [], []
            history: list[orm.FlowRunState] = []
            if self.states:
                history = await flow_runs.read_state_rows_after(
                    session, self.flow_run_id, self.version
                )
            found: list[orm.Log] = []
            if self.logs:
                found = await logs.read_log_rows_after(
                    session, self.flow_run_id, self.log_id, _LOG_PAGE
                )
            return run, history, found

    def _render(self, history: list[orm.FlowRunState], logs: list[orm.Log]) -> list[str]:
        items: list[tuple[dt.datetime, int, Any]] = []
        # Interleave by time; each sequence keeps its own order (heapq.merge is stable
        # per input), so cursors only ever grow.
        state_items = [(s.timestamp, 0, s) for s in history]
        log_items = [(entry.timestamp, 1, entry) for entry in logs]
        items = list(heapq.merge(state_items, log_items, key=lambda t: (t[0], t[1])))
        out: list[str] = []
        for _ts, kind, row in items:
            if kind == 0:
                self.version = max(self.version, row.version)
                data = {
                    "version": row.version,
                    "timestamp": _iso(row.timestamp),
                    "state": row.serialized,
                }
                out.append(_sse("state", self.cursor, data))
            else:
                self.log_id = max(self.log_id, row.id)
                data = schemas.Log.model_validate(row).model_dump(mode="json")
                out.append(_sse("log", self.cursor, data))
        return out

    async def run(self) -> AsyncIterator[str]:
        bus = _bus(self.request)
        kinds = _RUN_KINDS | {"logs"}
        async with bus.subscribe(flow_run_id=self.flow_run_id, kinds=kinds) as sub:
            last_sent = _loop_time()
            while True:
                run, history, logs = await self._read()
                if run is None:
                    return  # deleted: nothing more will ever come
                chunks = self._render(history, logs)
                if chunks:
                    yield "".join(chunks)
                    last_sent = _loop_time()
                if len(logs) >= _LOG_PAGE:
                    continue  # more logs are waiting: read the next page at once
                if families.is_finished(run.state_type) and (
                    not self.states or self.version >= run.version
                ):
                    # Logs shipped right after the final state still belong before `end`.
                    ended = run.state_timestamp or dt.datetime.now(dt.UTC)
                    grace = END_GRACE - (dt.datetime.now(dt.UTC) - ended).total_seconds()
                    if self.logs and grace > 0:
                        await sub.wait(grace)
                        sub.drain()
                        continue
                    data = {
                        "flow_run_id": self.flow_run_id,
                        "state_type": run.state_type,
                        "version": run.version,
                    }
                    yield _sse("end", self.cursor, data)
                    return
                if bus.closing:
                    return  # the server is shutting down; the client resumes elsewhere
                idle = PING_INTERVAL - (_loop_time() - last_sent)
                if idle <= 0:
                    yield ": ping\n\n"
                    last_sent = _loop_time()
                    continue
                event = await sub.wait(idle)
                if event is not None or sub.pending():
                    sub.drain()


@push_router.get(
    "/flow-runs/{flow_run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_flow_run_events(
    request: Request,
    flow_run_id: str = Path(max_length=64),
    cursor: str | None = Query(None, max_length=64, description="Resume after this id."),
    states: bool = Query(True, description="Send state events."),
    logs: bool = Query(True, description="Send log events."),
) -> StreamingResponse:
    """Stream the flow run's states and logs as server-sent events."""
    # Browsers' EventSource resends the last id it saw in this header on reconnect.
    position = _parse_cursor(cursor or request.headers.get("last-event-id"))
    await _read_run(request, flow_run_id)  # 404 before the stream starts
    stream = _Stream(request, flow_run_id, position, states, logs)
    return StreamingResponse(
        stream.run(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
