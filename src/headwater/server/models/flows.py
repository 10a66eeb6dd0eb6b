"""Flow and flow-group queries: registration with versioning, archiving, lookups.

Contract:

- A flow's *group* is shared by every version registered under the same name in the same
  project. Registering makes version ``max + 1`` and archives every other unarchived
  version of the group; runs already created for older versions are left alone.
- A registration ``idempotency_key`` equal to the group's last one returns the newest
  unarchived version instead of registering again.
- ``parameters`` and ``tasks`` are extracted from ``serialized_flow`` (its ``parameters``
  list of ``{name, slug?, required?, default?}`` and its ``tasks`` list of ``{slug, name,
  ...}``).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.database.locks import advisory_lock
from headwater.server.models.errors import InvalidInput, NotFound
from headwater.server.models.projects import require_project_by_name

__all__ = [
    "archive_flow",
    "extract_parameters",
    "extract_tasks",
    "read_flow",
    "read_flow_group",
    "read_flows",
    "register_flow",
    "update_flow_group",
]


def extract_parameters(serialized_flow: dict[str, Any]) -> list[dict[str, Any]]:
    """The declared parameters of a serialized flow as ``{name, slug, required, default}``.

    Raises:
        InvalidInput: ``parameters`` is not a list of objects with a name.
    """
    raw = serialized_flow.get("parameters") or []
    if not isinstance(raw, list):
        raise InvalidInput("serialized_flow.parameters must be a list.")
    params: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput("Each entry of serialized_flow.parameters needs a string 'name'.")
        params.append(
            {
                "name": item["name"],
                "slug": item.get("slug") or item["name"],
                "required": bool(item.get("required", False)),
                "default": item.get("default"),
            }
        )
    return params


def extract_tasks(serialized_flow: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks of a serialized flow; each keeps its fields and must have a slug.

    Raises:
        InvalidInput: ``tasks`` is not a list of objects with a unique string slug.
    """
    raw = serialized_flow.get("tasks") or []
    if not isinstance(raw, list):
        raise InvalidInput("serialized_flow.tasks must be a list.")
    seen: set[str] = set()
    tasks: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            raise InvalidInput("Each entry of serialized_flow.tasks needs a string 'slug'.")
        if item["slug"] in seen:
            raise InvalidInput(f"Task slug {item['slug']!r} appears twice in the flow.")
        seen.add(item["slug"])
        tasks.append(dict(item, name=item.get("name") or item["slug"]))
    return tasks


async def register_flow(
    session: AsyncSession,
    *,
    name: str,
    project_name: str,
    serialized_flow: dict[str, Any],
    storage: dict[str, Any] | None = None,
    run_config: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    description: str | None = None,
    idempotency_key: str | None = None,
    core_version: str | None = None,
    set_schedule_active: bool = True,
) -> tuple[orm.Flow, bool]:
    """Register a new version of a flow.

    ``set_schedule_active`` switches the flow group's schedule on or off (a repeated
    idempotency key changes nothing); the caller then reconciles the group's scheduled
    runs (:func:`headwater.server.models.schedules.reconcile`).

    Returns:
        ``(flow, created)``; ``created`` is False when the idempotency key matched.

    Raises:
        NotFound: The project does not exist.
        InvalidInput: The serialized flow's parameters or tasks are malformed.
    """
    project = await require_project_by_name(session, project_name)
    parameters = extract_parameters(serialized_flow)
    tasks = extract_tasks(serialized_flow)
    schedule = serialized_flow.get("schedule")
    if schedule is not None:
        # deferred: breaks the cycle flows -> schedules -> flow_runs -> flows
        from headwater.server.models.schedules import parse_schedule

        parse_schedule(schedule)
    # Registrations of one flow name take turns (until commit), so that two first
    # registrations cannot create two groups. SQLite writers are serialised anyway.
    await advisory_lock(session, f"headwater-flow:{project.id}:{name}")
    newest = (
        await session.execute(
            select(orm.Flow)
            .where(orm.Flow.project_id == project.id, orm.Flow.name == name)
            .order_by(orm.Flow.created.desc(), orm.Flow.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if newest is None:
        group = orm.FlowGroup(
            id=orm.new_id(),
            name=name,
            project_id=project.id,
            labels=None,
            default_parameters={},
            run_config=None,
            settings={},
            is_schedule_active=set_schedule_active,
            late_runs="all",
        )
        session.add(group)
        await session.flush()
    else:
        # Lock the group so concurrent registrations on PostgreSQL number versions in turn.
        group = (
            await session.execute(
                select(orm.FlowGroup)
                .where(orm.FlowGroup.id == newest.flow_group_id)
                .with_for_update()
            )
        ).scalar_one()
        if idempotency_key is not None and group.settings.get("idempotency_key") == (
            idempotency_key
        ):
            existing = await _newest_unarchived(session, group.id)
            if existing is not None:
                return existing, False
    max_version = (
        await session.execute(
            select(func.max(orm.Flow.version)).where(orm.Flow.flow_group_id == group.id)
        )
    ).scalar_one()
    flow = orm.Flow(
        id=orm.new_id(),
        flow_group_id=group.id,
        project_id=project.id,
        project_name=project.name,
        name=name,
        version=(max_version or 0) + 1,
        archived=False,
        serialized_flow=serialized_flow,
        parameters=parameters,
        tasks=tasks,
        storage=storage,
        run_config=run_config,
        labels=sorted(set(labels)) if labels is not None else None,
        schedule=schedule,
        description=description,
        core_version=core_version,
        idempotency_key=idempotency_key,
    )
    session.add(flow)
    await session.flush()
    await session.execute(
        update(orm.Flow)
        .where(
            orm.Flow.flow_group_id == group.id,
            orm.Flow.id != flow.id,
            orm.Flow.archived.is_(False),
        )
        .values(archived=True)
        .execution_options(synchronize_session=False)
    )
    group.settings = {**(group.settings or {}), "idempotency_key": idempotency_key}
    group.is_schedule_active = set_schedule_active
    await session.flush()
    return flow, True


async def _newest_unarchived(session: AsyncSession, flow_group_id: str) -> orm.Flow | None:
    result = await session.execute(
        select(orm.Flow)
        .where(orm.Flow.flow_group_id == flow_group_id, orm.Flow.archived.is_(False))
        .order_by(orm.Flow.version.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def newest_unarchived_flow(session: AsyncSession, flow_group_id: str) -> orm.Flow:
    """The highest unarchived version of a flow group.

    Raises:
        NotFound: The group does not exist or has no unarchived version.
    """
    if await session.get(orm.FlowGroup, flow_group_id) is None:
        raise NotFound(f"Flow group {flow_group_id} not found.")
    flow = await _newest_unarchived(session, flow_group_id)
    if flow is None:
        raise NotFound(f"Flow group {flow_group_id} has no unarchived flows.")
    return flow


async def read_flow(session: AsyncSession, flow_id: str) -> orm.Flow | None:
    """The flow version with this id, or ``None``."""
    return await session.get(orm.Flow, flow_id)


async def read_flow_group(session: AsyncSession, flow_group_id: str) -> orm.FlowGroup | None:
    """The flow group with this id, or ``None``."""
    return await session.get(orm.FlowGroup, flow_group_id)


async def read_flows(
    session: AsyncSession,
    *,
    name: str | None = None,
    project_name: str | None = None,
    archived: bool | None = None,
    flow_group_id: str | None = None,
    order: Literal["version", "created"] = "version",
    limit: int | None = None,
    offset: int = 0,
) -> list[orm.Flow]:
    """Flow versions matching every filter given, newest first."""
    query = select(orm.Flow)
    if name is not None:
        query = query.where(orm.Flow.name == name)
    if project_name is not None:
        query = query.where(orm.Flow.project_name == project_name)
    if archived is not None:
        query = query.where(orm.Flow.archived.is_(archived))
    if flow_group_id is not None:
        query = query.where(orm.Flow.flow_group_id == flow_group_id)
    if order == "created":
        query = query.order_by(orm.Flow.created.desc(), orm.Flow.version.desc())
    else:
        query = query.order_by(orm.Flow.version.desc(), orm.Flow.created.desc())
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


async def archive_flow(session: AsyncSession, flow_id: str) -> orm.Flow:
    """Archive a flow version (new runs of it are refused).

    Existing runs stay; the caller reconciles the group's scheduled runs, which removes
    the never-submitted ones when no unarchived version is left.

    Raises:
        NotFound: No such flow.
    """
    flow = await read_flow(session, flow_id)
    if flow is None:
        raise NotFound(f"Flow {flow_id} not found.")
    flow.archived = True
    await session.flush()
    return flow


_UNSET: Any = object()


async def update_flow_group(
    session: AsyncSession,
    flow_group_id: str,
    *,
    labels: Any = _UNSET,
    default_parameters: Any = _UNSET,
    run_config: Any = _UNSET,
) -> orm.FlowGroup:
    """Change settings shared by every version of a flow; arguments left out stay.

    Args:
        session: Database session.
        flow_group_id: The flow group.
        labels: Labels for new runs (``None``: not set, fall back to run configs).
        default_parameters: Parameter values overlaid on the flows' declared defaults.
        run_config: Run config for new runs (``None``: use the flow's).

    Raises:
        NotFound: No such flow group.
    """
    group = await session.get(orm.FlowGroup, flow_group_id)
    if group is None:
        raise NotFound(f"Flow group {flow_group_id} not found.")
    if labels is not _UNSET:
        group.labels = sorted(set(labels)) if labels is not None else None
    if default_parameters is not _UNSET:
        group.default_parameters = dict(default_parameters or {})
    if run_config is not _UNSET:
        group.run_config = run_config
    await session.flush()
    return group
