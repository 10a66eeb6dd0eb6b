"""Artifacts: links and Markdown texts that task runs publish for people.

Contract: an artifact belongs to a flow run and usually to one of its task runs (Prefect
1 attached every artifact to the task run that created it). ``kind`` is ``link`` (data
``{"link": str, ...}``) or ``markdown`` (data ``{"markdown": str, ...}``); an update
replaces the data and keeps the kind. Links may be absolute URLs or paths, never
``javascript:``/``data:``/``vbscript:`` URLs. The JSON form of ``data`` is limited to
:data:`MAX_DATA_BYTES`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.database.orm_backend import Artifact
from headwater.server.models._rows import require_row
from headwater.server.models.errors import InvalidInput, NotFound, TooLarge
from headwater.server.models.flow_runs import require_flow_run
from headwater.server.models.task_runs import require_task_run

__all__ = [
    "KINDS",
    "MAX_DATA_BYTES",
    "MAX_LIMIT",
    "create_artifact",
    "delete_artifact",
    "read_artifacts",
    "require_artifact",
    "update_artifact",
]

#: Artifact kinds and the data key each one needs.
KINDS: dict[str, str] = {"link": "link", "markdown": "markdown"}
#: Largest JSON form of an artifact's data.
MAX_DATA_BYTES = 1024 * 1024
#: Largest page of a listing.
MAX_LIMIT = 1000
_BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


def _check_data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    key = KINDS.get(kind)
    if key is None:
        raise InvalidInput(f"Unknown artifact kind {kind!r}; use 'link' or 'markdown'.")
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"A {kind} artifact needs data {{{key!r}: <text>}}.")
    if kind == "link":
        if not value.strip():
            raise InvalidInput("A link artifact needs a non-empty link.")
        if "".join(value.split()).lower().startswith(_BAD_SCHEMES):
            raise InvalidInput("Links with javascript:, data: or vbscript: URLs are refused.")
    size = len(json.dumps(data, separators=(",", ":"), default=str).encode())
    if size > MAX_DATA_BYTES:
        raise TooLarge(
            f"The artifact's data has {size} bytes as JSON; at most {MAX_DATA_BYTES} are accepted."
        )
    return data


async def create_artifact(
    session: AsyncSession,
    *,
    kind: str,
    data: dict[str, Any],
    task_run_id: str | None = None,
    flow_run_id: str | None = None,
) -> Artifact:
    """Store a new artifact of a task run (or of a flow run when no task run is given).

    Raises:
        InvalidInput: neither id given, the ids disagree, or the data does not fit the kind.
        NotFound: the task run or flow run does not exist.
        TooLarge: the data exceeds :data:`MAX_DATA_BYTES`.
    """
    data = _check_data(kind, data)
    if task_run_id is not None:
        task_run = await require_task_run(session, task_run_id)
        if flow_run_id is not None and flow_run_id != task_run.flow_run_id:
            raise InvalidInput(
                f"Task run {task_run_id} belongs to flow run {task_run.flow_run_id}, "
                f"not {flow_run_id}."
            )
        flow_run_id = task_run.flow_run_id
    elif flow_run_id is not None:
        await require_flow_run(session, flow_run_id)
    else:
        raise InvalidInput("An artifact needs a task_run_id (or a flow_run_id).")
    now = orm.utcnow()
    artifact = Artifact(
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
        kind=kind,
        data=data,
        created=now,
        updated=now,
    )
    session.add(artifact)
    await session.flush()
    return artifact


async def require_artifact(session: AsyncSession, artifact_id: str) -> Artifact:
    """The artifact with this id.

    Raises:
        NotFound: no such artifact.
    """
    return await require_row(session, Artifact, artifact_id, noun="Artifact")


async def update_artifact(
    session: AsyncSession, artifact_id: str, data: dict[str, Any]
) -> Artifact:
    """Replace an artifact's data (its kind stays).

    Raises:
        NotFound: no such artifact.
        InvalidInput / TooLarge: as for :func:`create_artifact`.
    """
    artifact = await require_artifact(session, artifact_id)
    artifact.data = _check_data(artifact.kind, data)
    artifact.updated = orm.utcnow()
    await session.flush()
    return artifact


async def delete_artifact(session: AsyncSession, artifact_id: str) -> None:
    """Delete an artifact.

    Raises:
        NotFound: no such artifact.
    """
    result = await session.execute(delete(Artifact).where(Artifact.id == artifact_id))
    if getattr(result, "rowcount", 1) == 0:
        raise NotFound(f"Artifact {artifact_id} not found.")


async def read_artifacts(
    session: AsyncSession,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    kind: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Artifact]:
    """Artifacts in creation order, filtered by flow run, task run and kind."""
    query = select(Artifact)
    if flow_run_id is not None:
        query = query.where(Artifact.flow_run_id == flow_run_id)
    if task_run_id is not None:
        query = query.where(Artifact.task_run_id == task_run_id)
    if kind is not None:
        query = query.where(Artifact.kind == kind)
    query = query.order_by(Artifact.created, Artifact.id).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())
