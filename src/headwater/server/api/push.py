"""Push endpoints: waiting for a flow run, streaming its events, agents claiming work.

Contract (docs/internals/contracts.md section 3 and 3.1):

- ``GET /flow-runs/{id}/wait?timeout=30`` returns ``{finished, flow_run}`` as soon as the
  run is finished, or when ``timeout`` seconds (at most 300) have passed.
- ``GET /flow-runs/{id}/events?cursor=&states=true&logs=true`` is a server-sent event
  stream of the run's states (``event: state``) and logs (``event: log``), each with an
  ``id:`` cursor that resumes right after it, then ``event: end`` once the run is finished
  and everything before it was sent. ``: ping`` comments keep idle connections open.
- ``POST /agents/{id}/claim`` is an agent's long-poll: it claims due runs that fit the
  agent (``headwater.server.orchestration.claims``) and lists runs the agent should stop.

Every endpoint subscribes to the event bus *before* reading the database and then waits
for an event, so a change committed between the read and the wait is never missed.
Sessions are never held open across a wait. When the bus begins shutting down, waits
answer with what they have and streams end, so they never hold up a server's exit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from headwater.server.database import orm
from headwater.server.events import CLOSING, RESYNC, Event, EventBus
from headwater.server.models.errors import InvalidInput, NotFound
from headwater.server.orchestration import claims, leases
from headwater.server.schemas import api as schemas
from headwater.server.schemas import states as families

__all__ = [
    "ClaimRequest",
    "ClaimResponse",
    "WaitResponse",
    "router",
]

router = APIRouter(tags=["push"])

#: Longest accepted long-poll, in seconds.
MAX_TIMEOUT = 300.0
#: Idle seconds between ``: ping`` comments on an event stream.
PING_INTERVAL = 15.0
#: After a run finishes, logs written up to this many seconds later still precede ``end``.
END_GRACE = 0.25
_LOG_PAGE = 500
_CURSOR = re.compile(r"^(\d{1,12})-(\d{1,19})$")
_RUN_KINDS = frozenset({"flow_run.state", "flow_run.updated"})
_CLAIM_KINDS = frozenset(
    {"flow_run.created", "flow_run.state", "flow_run.updated", "concurrency_limit.updated"}
)


class WaitResponse(BaseModel):
    """``GET /flow-runs/{id}/wait``."""

    finished: bool
    flow_run: schemas.FlowRun


class ClaimRequest(BaseModel):
    """``POST /agents/{id}/claim``."""

    timeout: float = Field(default=30.0, ge=0, le=MAX_TIMEOUT)
    limit: int = Field(default=1, ge=0, le=100)
    running: list[str] = Field(default_factory=list, max_length=10_000)
    token: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "A random token of the claiming agent process. A run it claimed but does not "
            "list in `running` on a later claim never reached it and is handed back."
        ),
    )


class ClaimResponse(BaseModel):
    """Runs claimed for the agent (now Submitted to it) and runs it should stop."""

    flow_runs: list[schemas.FlowRun]
    cancel: list[str]


def _bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.events
    return bus


def _db(request: Request) -> Any:
    return request.app.state.db


def _lease(request: Request) -> float:
    return float(getattr(request.app.state.settings, "claim_lease", 30.0))


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


# -- wait ---------------------------------------------------------------------------


async def _read_run(request: Request, flow_run_id: str) -> schemas.FlowRun:
    async with _db(request).read_session() as session:
        run = await session.get(orm.FlowRun, flow_run_id)
        if run is None:
            raise NotFound(f"Flow run {flow_run_id!r} not found.")
        return schemas.FlowRun.model_validate(run)


@router.get("/flow-runs/{flow_run_id}/wait", response_model=WaitResponse)
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
        from sqlalchemy import select

        async with _db(self.request).read_session() as session:
            run = await session.get(orm.FlowRun, self.flow_run_id)
            if run is None:
                return None, [], []
            history: list[orm.FlowRunState] = []
            if self.states:
                history = list(
                    (
                        await session.execute(
                            select(orm.FlowRunState)
                            .where(
                                orm.FlowRunState.flow_run_id == self.flow_run_id,
                                orm.FlowRunState.version > self.version,
                            )
                            .order_by(orm.FlowRunState.version)
                        )
                    )
                    .scalars()
                    .all()
                )
            logs: list[orm.Log] = []
            if self.logs:
                logs = list(
                    (
                        await session.execute(
                            select(orm.Log)
                            .where(
                                orm.Log.flow_run_id == self.flow_run_id,
                                orm.Log.id > self.log_id,
                            )
                            .order_by(orm.Log.id)
                            .limit(_LOG_PAGE)
                        )
                    )
                    .scalars()
                    .all()
                )
            return run, history, logs

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


@router.get(
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


# -- claim ---------------------------------------------------------------------------


def _claim_relevant(event: Event, running: set[str], limit: int) -> bool:
    """Whether ``event`` may change what a claim finds (trimmed events always may)."""
    if event.kind in (RESYNC, CLOSING):
        return True
    if event.flow_run_id is not None and event.flow_run_id in running:
        return True
    if limit == 0:
        return False  # a full agent only waits for news about the runs it supervises
    if event.kind in ("flow_run.created", "concurrency_limit.updated"):
        return True
    if event.data.get("labels"):
        return True  # a finished run with labels may free a concurrency slot
    state_type = event.data.get("state_type")
    if event.kind == "flow_run.state" and isinstance(state_type, str):
        return state_type in claims.CLAIMABLE_STATES
    return True


@router.post("/agents/{agent_id}/claim", response_model=ClaimResponse)
async def claim_flow_runs(
    request: Request, body: ClaimRequest, agent_id: str = Path(max_length=64)
) -> ClaimResponse:
    """Claim due runs that fit the agent; wait up to ``timeout`` seconds for some."""
    deadline = _loop_time() + body.timeout
    running = set(body.running)
    async with _bus(request).subscribe(kinds=_CLAIM_KINDS) as sub:
        while True:
            if await request.is_disconnected():
                # The agent went away (stopped or killed): claiming now would hand runs
                # to nobody until the reaper's Submitted timeout puts them back.
                return ClaimResponse(flow_runs=[], cancel=[])
            found, next_due = await _claim_once(request, agent_id, body)
            if found.flow_runs or found.cancel:
                return found
            remaining = deadline - _loop_time()
            if remaining <= 0 or _bus(request).closing:
                return found
            # Claim again well within the lease: it renews the leases of the runs listed,
            # so a living agent's unstarted runs are never handed back.
            wait = min(remaining, leases.refresh_interval(_lease(request)))
            if next_due is not None and body.limit > 0:
                until_due = (next_due - dt.datetime.now(dt.UTC)).total_seconds()
                wait = min(wait, max(0.0, until_due) + 0.005)
            wait_until = _loop_time() + wait
            while True:
                event = await sub.wait(max(0.0, wait_until - _loop_time()))
                if event is None or _claim_relevant(event, running, body.limit):
                    break
            sub.drain()


async def _claim_once(
    request: Request, agent_id: str, body: ClaimRequest
) -> tuple[ClaimResponse, dt.datetime | None]:
    """One claim attempt; also returns the next future due time of a fitting run."""
    async with _db(request).session() as session:
        agent = await session.get(orm.Agent, agent_id)
        if agent is None:
            raise NotFound(f"Agent {agent_id!r} not found; register it with POST /agents.")
        agent.last_seen = dt.datetime.now(dt.UTC)
        if body.token:
            await leases.acknowledge(session, token=body.token, running=body.running)
            await leases.hand_back_unacknowledged(
                session,
                agent_id=agent_id,
                agent_name=agent.name,
                token=body.token,
                running=body.running,
            )
        cancel = await claims.runs_to_cancel(session, body.running)
        result = await claims.claim_flow_runs(
            session,
            agent_id=agent_id,
            agent_name=agent.name,
            agent_labels=list(agent.labels or []),
            limit=body.limit,
        )
        leases.record_claims(result.claimed, body.token)
        await session.flush()
        for run in result.claimed:
            await session.refresh(run)
        claimed = [schemas.FlowRun.model_validate(run) for run in result.claimed]
        await session.commit()
    return ClaimResponse(flow_runs=claimed, cancel=cancel), result.next_due
