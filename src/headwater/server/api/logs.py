"""Routes: logs and agents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from headwater.server.api.dependencies import DbDep
from headwater.server.models import agents, logs
from headwater.server.models.errors import NotFound
from headwater.server.schemas import api as schemas

__all__ = ["router"]

router = APIRouter()


@router.post("/logs", response_model=schemas.LogsInserted, tags=["logs"])
async def write_logs(body: schemas.LogsCreate, db: DbDep) -> schemas.LogsInserted:
    """Insert a batch of log lines."""
    async with db.session() as session:
        inserted = await logs.insert_logs(session, [item.model_dump() for item in body.logs])
        await session.commit()
    return schemas.LogsInserted(inserted=inserted)


@router.get("/logs", response_model=list[schemas.Log], tags=["logs"])
async def read_logs(
    db: DbDep,
    flow_run_id: str,
    task_run_id: str | None = None,
    after: schemas.UTCDateTime | None = None,
    before: schemas.UTCDateTime | None = None,
    after_id: int | None = Query(None, ge=0, lt=2**63),
    limit: int = Query(1000, ge=1, le=logs.MAX_LIMIT),
) -> object:
    """A flow run's logs in (timestamp, id) order."""
    async with db.read_session() as session:
        return await logs.read_logs(
            session,
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            after=after,
            before=before,
            after_id=after_id,
            limit=limit,
        )


@router.post("/agents", response_model=schemas.Agent, tags=["agents"])
async def register_agent(body: schemas.AgentCreate, db: DbDep) -> object:
    """Register an agent (an identical record is reused)."""
    async with db.session() as session:
        agent = await agents.register_agent(
            session, name=body.name, type=body.type, labels=body.labels
        )
        await session.commit()
        return agent


@router.put("/agents/{agent_id}/stats", response_model=schemas.Agent, tags=["agents"])
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


@router.get("/agents", response_model=list[schemas.Agent], tags=["agents"])
async def list_agents(db: DbDep) -> object:
    """Every registered agent, most recently seen first."""
    async with db.read_session() as session:
        return await agents.read_agents(session)
