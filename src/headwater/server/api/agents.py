"""Routes: agents (register, report stats, list) and their claims of flow runs.

Contract of the claim (docs/internals/contracts.md section 3 and 3.1):
``POST /agents/{id}/claim`` is an agent's long-poll: it claims due runs that fit the
agent (:mod:`headwater.server.orchestration.claims`) and lists runs the agent should
stop. It subscribes to the event bus *before* reading the database and then waits for an
event, so a change committed between the read and the wait is never missed; no session
is held open across a wait, and when the bus begins shutting down it answers with what
it has. It is on :data:`push_router` (OpenAPI tag "push"), registered after every other
router.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from headwater.server.api.dependencies import DbDep
from headwater.server.database import Database
from headwater.server.events import CLOSING, RESYNC, Event, EventBus
from headwater.server.models import agents
from headwater.server.models.errors import NotFound
from headwater.server.orchestration import claims, leases
from headwater.server.schemas import api as schemas
from headwater.server.settings import ServerSettings

__all__ = ["ClaimRequest", "ClaimResponse", "push_router", "router"]

router = APIRouter(tags=["agents"])
#: The claim long-poll (OpenAPI tag "push").
push_router = APIRouter(tags=["push"])

#: Longest accepted claim long-poll, in seconds.
MAX_TIMEOUT = 300.0
_CLAIM_KINDS = frozenset(
    {"flow_run.created", "flow_run.state", "flow_run.updated", "concurrency_limit.updated"}
)


@router.post("/agents", response_model=schemas.Agent)
async def register_agent(body: schemas.AgentCreate, db: DbDep) -> object:
    """Register an agent (an identical record is reused)."""
    async with db.session() as session:
        agent = await agents.register_agent(
            session, name=body.name, type=body.type, labels=body.labels
        )
        await session.commit()
        return agent


@router.put("/agents/{agent_id}/stats", response_model=schemas.Agent)
async def report_agent_stats(
    agent_id: Annotated[str, Path(max_length=64)], body: schemas.AgentStats, db: DbDep
) -> object:
    """Store an agent's flow-run process counts (shown by ``GET /agents``)."""
    async with db.session() as session:
        agent = await agents.report_agent_stats(session, agent_id, body.model_dump())
        if agent is None:
            raise NotFound(f"Agent {agent_id!r} not found; register it with POST /agents.")
        await session.commit()
        return agent


@router.get("/agents", response_model=list[schemas.Agent])
async def list_agents(db: DbDep) -> object:
    """Every registered agent, most recently seen first."""
    async with db.read_session() as session:
        return await agents.read_agents(session)


# -- push: claim ----------------------------------------------------------------------


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


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def _lease(request: Request) -> float:
    settings: ServerSettings = request.app.state.settings
    return settings.claim_lease


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


@push_router.post("/agents/{agent_id}/claim", response_model=ClaimResponse)
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
    db: Database = request.app.state.db
    async with db.session() as session:
        found = await claims.claim_for_agent(
            session, agent_id, token=body.token, running=body.running, limit=body.limit
        )
        claimed = [schemas.FlowRun.model_validate(run) for run in found.claimed]
        await session.commit()
    return ClaimResponse(flow_runs=claimed, cancel=found.cancel), found.next_due
