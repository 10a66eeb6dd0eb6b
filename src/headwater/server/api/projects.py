"""Routes: projects."""

from __future__ import annotations

from fastapi import APIRouter, status

from headwater.server.api.dependencies import DbDep
from headwater.server.models import projects
from headwater.server.models.errors import NotFound
from headwater.server.schemas import api as schemas

__all__ = ["router"]

router = APIRouter(tags=["projects"])


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=schemas.Project)
async def create_project(body: schemas.ProjectCreate, db: DbDep) -> object:
    """Create a project; 409 when the name is taken."""
    async with db.session() as session:
        project = await projects.create_project(session, body.name, body.description)
        await session.commit()
        return project


@router.get("/projects", response_model=list[schemas.Project])
async def list_projects(db: DbDep) -> object:
    """Every project."""
    async with db.read_session() as session:
        return await projects.read_projects(session)


@router.get("/projects/by-name/{name}", response_model=schemas.Project)
async def read_project_by_name(name: str, db: DbDep) -> object:
    """A project by name."""
    async with db.read_session() as session:
        project = await projects.read_project_by_name(session, name)
    if project is None:
        raise NotFound(f"Project {name!r} not found.")
    return project


@router.get("/projects/{project_id}", response_model=schemas.Project)
async def read_project(project_id: str, db: DbDep) -> object:
    """A project by id."""
    async with db.read_session() as session:
        project = await projects.read_project(session, project_id)
    if project is None:
        raise NotFound(f"Project {project_id} not found.")
    return project
