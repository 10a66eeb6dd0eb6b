"""Task-run queries: race-safe get-or-create, reads and filters, stored results.

Contract: a task run is unique per (flow_run_id, task_slug, map_index); concurrent
get-or-create calls for one key return the same row. New task runs start Pending.

:func:`read_task_runs` also serves the backend task runner's cache lookup: task runs of a
flow version (``flow_id``) or flow group, or whose current state carries a ``cache_key``,
with a state stored at or after ``state_after``, newest state first (``sort="newest"``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.database.engine import insert_unique
from headwater.server.models._rows import require_row
from headwater.server.models.errors import Conflict, NotFound
from headwater.server.models.flow_runs import require_flow_run
from headwater.server.models.states import apply_state, insert_history, read_history
from headwater.server.result_store import ResultStore

__all__ = [
    "get_or_create_task_run",
    "get_or_create_task_runs",
    "read_result",
    "read_task_run",
    "read_task_run_states",
    "read_task_runs",
    "require_task_run",
    "write_result",
]


async def _by_key(
    session: AsyncSession, flow_run_id: str, task_slug: str, map_index: int
) -> orm.TaskRun | None:
    result = await session.execute(
        select(orm.TaskRun).where(
            orm.TaskRun.flow_run_id == flow_run_id,
            orm.TaskRun.task_slug == task_slug,
            orm.TaskRun.map_index == map_index,
        )
    )
    return result.scalar_one_or_none()


async def get_or_create_task_run(
    session: AsyncSession,
    *,
    flow_run_id: str,
    task_slug: str,
    map_index: int = -1,
    task_name: str | None = None,
) -> tuple[orm.TaskRun, bool]:
    """The task run for (flow run, slug, map index), created Pending if missing.

    Returns:
        ``(task_run, created)``.

    Raises:
        NotFound: The flow run does not exist.
    """
    existing = await _by_key(session, flow_run_id, task_slug, map_index)
    if existing is not None:
        return existing, False
    await require_flow_run(session, flow_run_id)
    now = orm.utcnow()
    task_run = orm.TaskRun(
        id=orm.new_id(),
        flow_run_id=flow_run_id,
        task_slug=task_slug,
        task_name=task_name,
        map_index=map_index,
        version=0,
        run_count=0,
        created=now,
        updated=now,
    )
    _, history = apply_state(task_run, {"type": "Pending", "message": "Task run created"}, now=now)
    if not await insert_unique(session, task_run, history):
        # A concurrent request created it first.
        existing = await _by_key(session, flow_run_id, task_slug, map_index)
        if existing is None:
            raise Conflict(f"Task run {task_slug!r} could not be created; retry the request.")
        return existing, False
    return task_run, True


async def _by_keys(
    session: AsyncSession, flow_run_id: str, keys: set[tuple[str, int]]
) -> dict[tuple[str, int], orm.TaskRun]:
    """The flow run's existing task runs among ``keys`` (one query per 900 slugs)."""
    slugs = sorted({slug for slug, _ in keys})
    found: dict[tuple[str, int], orm.TaskRun] = {}
    for start in range(0, len(slugs), 900):
        query = select(orm.TaskRun).where(
            orm.TaskRun.flow_run_id == flow_run_id,
            orm.TaskRun.task_slug.in_(slugs[start : start + 900]),
        )
        for row in (await session.execute(query)).scalars():
            key = (row.task_slug, row.map_index)
            if key in keys:
                found[key] = row
    return found


async def get_or_create_task_runs(
    session: AsyncSession,
    *,
    flow_run_id: str,
    keys: list[tuple[str, int, str | None]],
) -> list[orm.TaskRun]:
    """Many task runs of one flow run by (slug, map index, name), created Pending if missing.

    The bulk form of :func:`get_or_create_task_run`: one query finds the existing ones,
    one flush inserts the rest. When a concurrent request inserted some of them first,
    the whole set is read again, so every caller gets the same rows.

    Returns:
        The task runs, in the order of ``keys`` (a repeated key gives the same row).

    Raises:
        NotFound: The flow run does not exist.
    """
    await require_flow_run(session, flow_run_id)
    wanted = {(slug, index) for slug, index, _ in keys}
    found = await _by_keys(session, flow_run_id, wanted)
    now = orm.utcnow()
    rows: list[object] = []
    history: list[Any] = []
    created: dict[tuple[str, int], orm.TaskRun] = {}
    for slug, index, name in keys:
        key = (slug, index)
        if key in found or key in created:
            continue
        task_run = orm.TaskRun(
            id=orm.new_id(),
            flow_run_id=flow_run_id,
            task_slug=slug,
            task_name=name,
            map_index=index,
            version=0,
            run_count=0,
            created=now,
            updated=now,
        )
        _, first = apply_state(
            task_run, {"type": "Pending", "message": "Task run created"}, now=now
        )
        created[key] = task_run
        rows.append(task_run)
        history.append(first)
    if rows:
        if await insert_unique(session, *rows):
            await insert_history(session, history)
            found.update(created)
        else:
            # A concurrent request created some of them first: take what is stored now,
            # and create what is still missing one by one (each race-safe).
            found = await _by_keys(session, flow_run_id, wanted)
            for slug, index, name in keys:
                if (slug, index) not in found:
                    found[(slug, index)], _ = await get_or_create_task_run(
                        session,
                        flow_run_id=flow_run_id,
                        task_slug=slug,
                        map_index=index,
                        task_name=name,
                    )
    return [found[(slug, index)] for slug, index, _ in keys]


async def read_task_run(session: AsyncSession, task_run_id: str) -> orm.TaskRun | None:
    """The task run with this id, or ``None``."""
    return await session.get(orm.TaskRun, task_run_id)


async def require_task_run(
    session: AsyncSession, task_run_id: str, *, for_update: bool = False
) -> orm.TaskRun:
    """The task run with this id (optionally row-locked on PostgreSQL).

    Raises:
        NotFound: No such task run.
    """
    return await require_row(
        session, orm.TaskRun, task_run_id, noun="Task run", for_update=for_update
    )


async def read_task_runs(
    session: AsyncSession,
    *,
    flow_run_id: str | None = None,
    task_slug: str | None = None,
    map_index: int | None = None,
    states: list[str] | None = None,
    flow_id: str | None = None,
    flow_group_id: str | None = None,
    cache_key: str | None = None,
    state_after: dt.datetime | None = None,
    sort: Literal["slug", "newest"] = "slug",
    limit: int | None = None,
    offset: int = 0,
) -> list[orm.TaskRun]:
    """Task runs matching every filter given.

    Args:
        session: The session.
        flow_run_id: Only this flow run's.
        task_slug: Only this task's.
        map_index: Only this map index.
        states: Only those whose current state type is one of these.
        flow_id: Only those of runs of this flow version.
        flow_group_id: Only those of runs of any version of this flow group.
        cache_key: Only those whose current state carries this ``cache_key``.
        state_after: Only those whose current state was stored at or after this time.
        sort: ``"slug"`` orders by (task_slug, map_index); ``"newest"`` by the current
            state's timestamp, newest first.
        limit: At most this many.
        offset: Skip this many.

    Returns:
        The matching task runs.
    """
    query = select(orm.TaskRun)
    if flow_id is not None or flow_group_id is not None:
        query = query.join(orm.FlowRun, orm.FlowRun.id == orm.TaskRun.flow_run_id)
        if flow_id is not None:
            query = query.where(orm.FlowRun.flow_id == flow_id)
        if flow_group_id is not None:
            query = query.where(orm.FlowRun.flow_group_id == flow_group_id)
    if cache_key is not None:
        # The key travels inside the state's JSON (the backend task runner adds it to the
        # Cached states it writes), so no column is needed for it.
        query = query.where(orm.TaskRun.state["cache_key"].as_string() == cache_key)
    if state_after is not None:
        query = query.where(orm.TaskRun.state_timestamp >= state_after)
    if flow_run_id is not None:
        query = query.where(orm.TaskRun.flow_run_id == flow_run_id)
    if task_slug is not None:
        query = query.where(orm.TaskRun.task_slug == task_slug)
    if map_index is not None:
        query = query.where(orm.TaskRun.map_index == map_index)
    if states:
        query = query.where(orm.TaskRun.state_type.in_(states))
    if sort == "newest":
        query = query.order_by(orm.TaskRun.state_timestamp.desc(), orm.TaskRun.id)
    else:
        query = query.order_by(orm.TaskRun.task_slug, orm.TaskRun.map_index, orm.TaskRun.id)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


async def read_task_run_states(session: AsyncSession, task_run_id: str) -> list[dict[str, Any]]:
    """A task run's state history, oldest first.

    Raises:
        NotFound: No such task run.
    """
    await require_task_run(session, task_run_id)
    return await read_history(session, task_run_id=task_run_id)


async def write_result(
    session: AsyncSession, store: ResultStore, task_run_id: str, data: bytes
) -> str:
    """Store a task run's result and record its location.

    Raises:
        NotFound: No such task run.
    """
    task_run = await require_task_run(session, task_run_id)
    location = await store.write(task_run_id, data)
    task_run.result_location = location
    task_run.updated = orm.utcnow()
    await session.flush()
    return location


async def read_result(session: AsyncSession, store: ResultStore, task_run_id: str) -> bytes:
    """A task run's stored result bytes.

    Raises:
        NotFound: No such task run, or it has no stored result.
    """
    task_run = await require_task_run(session, task_run_id)
    if not task_run.result_location:
        raise NotFound(f"Task run {task_run_id} has no stored result.")
    try:
        return await store.read(task_run.result_location)
    except (FileNotFoundError, OSError):
        raise NotFound(
            f"The result of task run {task_run_id} is missing from the result store."
        ) from None
