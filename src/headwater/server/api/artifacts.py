"""Routes: artifacts (create, read, list per flow run or task run, update, delete)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from headwater.server.api.dependencies import DbDep
from headwater.server.models import artifacts
from headwater.server.schemas import backend as schemas

__all__ = ["router"]

router = APIRouter(tags=["artifacts"])


@router.post("/artifacts", status_code=status.HTTP_201_CREATED, response_model=schemas.Artifact)
async def create_artifact(body: schemas.ArtifactCreate, db: DbDep) -> object:
    """Attach a link or Markdown artifact to a task run (or to a flow run alone)."""
    async with db.session() as session:
        artifact = await artifacts.create_artifact(session, **body.model_dump())
        await session.commit()
        return artifact


@router.get("/artifacts", response_model=list[schemas.Artifact])
async def list_artifacts(
    db: DbDep,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    kind: str | None = None,
    limit: int = Query(200, ge=1, le=artifacts.MAX_LIMIT),
    offset: int = Query(0, ge=0, lt=2**31),
) -> object:
    """Artifacts in creation order, by flow run, task run and kind."""
    async with db.read_session() as session:
        return await artifacts.read_artifacts(
            session,
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            kind=kind,
            limit=limit,
            offset=offset,
        )


@router.get("/artifacts/{artifact_id}", response_model=schemas.Artifact)
async def read_artifact(artifact_id: str, db: DbDep) -> object:
    """One artifact."""
    async with db.read_session() as session:
        return await artifacts.require_artifact(session, artifact_id)


@router.patch("/artifacts/{artifact_id}", response_model=schemas.Artifact)
async def update_artifact(artifact_id: str, body: schemas.ArtifactUpdate, db: DbDep) -> object:
    """Replace an artifact's data."""
    async with db.session() as session:
        artifact = await artifacts.update_artifact(session, artifact_id, body.data)
        await session.commit()
        return artifact


@router.delete("/artifacts/{artifact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_artifact(artifact_id: str, db: DbDep) -> Response:
    """Delete an artifact."""
    async with db.session() as session:
        await artifacts.delete_artifact(session, artifact_id)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
