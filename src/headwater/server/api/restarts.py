"""Route: restart a failed flow run (Prefect 1's "Restart"), built on resumption.

Contract: ``POST /flow-runs/{id}/restart`` resets the run's failed and never-finished task
runs to Pending, keeps the finished ones with their results, and schedules the run again
(:func:`headwater.server.orchestration.resumption.restart_flow_run`). 200 with
``{flow_run, kept, reset}``; 404 for an unknown run; 409 when the run is not Failed (or
a failed-family state) or Cancelled.
"""

from __future__ import annotations

from fastapi import APIRouter, Path
from pydantic import BaseModel

from headwater.server.api.dependencies import DbDep
from headwater.server.models import flow_runs
from headwater.server.orchestration.resumption import restart_flow_run
from headwater.server.schemas import api as schemas

__all__ = ["RestartResult", "router"]

router = APIRouter(tags=["flow runs"])


class RestartResult(BaseModel):
    """``POST /flow-runs/{id}/restart``: the run, now Scheduled, and its task runs' fate."""

    flow_run: schemas.FlowRun
    kept: list[str]
    reset: list[str]


@router.post("/flow-runs/{flow_run_id}/restart", response_model=RestartResult)
async def restart(db: DbDep, flow_run_id: str = Path(max_length=64)) -> RestartResult:
    """Restart a failed or cancelled flow run from its failed task runs on."""
    async with db.session() as session:
        outcome = await restart_flow_run(session, flow_run_id)
        await flow_runs.refresh_flow_runs(session, [outcome.flow_run])
        flow_run = schemas.FlowRun.model_validate(outcome.flow_run)
        await session.commit()
    return RestartResult(flow_run=flow_run, kept=outcome.kept, reset=outcome.reset)
