"""Project queries.

Contract: project names are unique; creating a duplicate raises :class:`Conflict`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.database.engine import insert_unique
from headwater.server.models.errors import Conflict, NotFound

__all__ = ["create_project", "read_project", "read_project_by_name", "read_projects"]


async def create_project(
    session: AsyncSession, name: str, description: str | None = None
) -> orm.Project:
    """Create a project.

    Raises:
        Conflict: A project with this name exists.
    """
    if await read_project_by_name(session, name) is not None:
        raise Conflict(f"Project {name!r} already exists.")
    project = orm.Project(id=orm.new_id(), name=name, description=description)
    if not await insert_unique(session, project):
        raise Conflict(f"Project {name!r} already exists.")
    return project


async def read_project(session: AsyncSession, project_id: str) -> orm.Project | None:
    """The project with this id, or ``None``."""
    return await session.get(orm.Project, project_id)


async def read_project_by_name(session: AsyncSession, name: str) -> orm.Project | None:
    """The project with this name, or ``None``."""
    result = await session.execute(select(orm.Project).where(orm.Project.name == name))
    return result.scalar_one_or_none()


async def require_project_by_name(session: AsyncSession, name: str) -> orm.Project:
    """The project with this name.

    Raises:
        NotFound: No such project.
    """
    project = await read_project_by_name(session, name)
    if project is None:
        raise NotFound(f"Project {name!r} not found.")
    return project


async def read_projects(session: AsyncSession) -> list[orm.Project]:
    """Every project, by name."""
    result = await session.execute(select(orm.Project).order_by(orm.Project.name))
    return list(result.scalars())
