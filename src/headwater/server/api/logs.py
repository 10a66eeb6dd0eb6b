"""Routes: logs (write a batch, read a flow run's)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from headwater.server.api.dependencies import DbDep
from headwater.server.models import logs
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
