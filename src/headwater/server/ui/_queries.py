"""The UI's reads: every page's rows, counts and aggregates, computed in SQL.

Contract: plain async functions over an ``AsyncSession``; paging (``LIMIT``/``OFFSET``)
and counting (``GROUP BY``) happen in the database, so a page's cost does not grow with
the number of runs or task runs beyond what it shows. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.orchestration.claims import labels_fit
from headwater.server.schemas import states as families

__all__ = [
    "LEVELS",
    "AgentRow",
    "LateRun",
    "RunFilters",
    "TaskFilters",
    "agents_overview",
    "ancestors",
    "descendants",
    "gantt_rows",
    "log_lines",
    "mapped_children",
    "mapped_summary",
    "projects_overview",
    "run_counts",
    "runs_page",
    "task_counts",
    "task_rows",
]

#: Log levels in increasing severity; a level filter keeps its level and the ones after.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: States of a run that occupies its agent.
IN_FLIGHT = ("Submitted", "Running", "Cancelling")


@dataclass(frozen=True)
class RunFilters:
    """The runs page's filters; every one is optional."""

    states: tuple[str, ...] = ()
    flow: str | None = None
    project: str | None = None
    label: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    top_level: bool = False
    flow_group_id: str | None = None
    page: int = 1
    per_page: int = 50


def _filtered(query: Any, f: RunFilters, *, with_states: bool = True) -> Any:
    run = orm.FlowRun
    if with_states and f.states:
        query = query.where(run.state_type.in_(f.states))
    if f.flow:
        query = query.where(func.lower(run.flow_name).contains(f.flow.lower(), autoescape=True))
    if f.project:
        query = query.where(run.project_name == f.project)
    if f.flow_group_id:
        query = query.where(run.flow_group_id == f.flow_group_id)
    if f.label:
        query = query.where(
            exists().where(
                orm.FlowRunLabel.flow_run_id == run.id, orm.FlowRunLabel.label == f.label
            )
        )
    if f.since is not None:
        query = query.where(run.created >= f.since)
    if f.until is not None:
        query = query.where(run.created <= f.until)
    if f.top_level:
        query = query.where(run.parent_flow_run_id.is_(None))
    return query


async def run_counts(session: AsyncSession, f: RunFilters) -> dict[str, int]:
    """Runs per state type under every filter but the state filter."""
    query = _filtered(
        select(orm.FlowRun.state_type, func.count()).group_by(orm.FlowRun.state_type),
        f,
        with_states=False,
    )
    return {str(k or "None"): int(n) for k, n in (await session.execute(query)).all()}


async def runs_page(session: AsyncSession, f: RunFilters) -> list[orm.FlowRun]:
    """One page of runs, newest first."""
    query = _filtered(select(orm.FlowRun), f)
    query = (
        query.order_by(orm.FlowRun.created.desc(), orm.FlowRun.id.desc())
        .offset((max(1, f.page) - 1) * f.per_page)
        .limit(f.per_page)
    )
    return list((await session.execute(query)).scalars())


async def ancestors(session: AsyncSession, run: orm.FlowRun, limit: int = 50) -> list[orm.FlowRun]:
    """The chain of parents, root first (at most ``limit`` levels)."""
    chain: list[orm.FlowRun] = []
    seen = {run.id}
    parent_id = run.parent_flow_run_id
    while parent_id is not None and parent_id not in seen and len(chain) < limit:
        parent = await session.get(orm.FlowRun, parent_id)
        if parent is None:
            break
        seen.add(parent.id)
        chain.append(parent)
        parent_id = parent.parent_flow_run_id
    chain.reverse()
    return chain


@dataclass
class TreeNode:
    """A descendant run and its own children."""

    run: orm.FlowRun
    children: list[TreeNode] = field(default_factory=list)


async def descendants(
    session: AsyncSession, run_id: str, limit: int = 500
) -> tuple[list[TreeNode], int]:
    """The tree of runs below ``run_id``, breadth first, at most ``limit`` runs.

    Returns:
        ``(roots, total)``: the direct children with their subtrees, and how many runs
        were found (``total > limit`` means the tree was cut).
    """
    nodes: dict[str, TreeNode] = {}
    roots: list[TreeNode] = []
    frontier = [run_id]
    seen = {run_id}
    total = 0
    while frontier and total <= limit:
        rows = (
            await session.execute(
                select(orm.FlowRun)
                .where(orm.FlowRun.parent_flow_run_id.in_(frontier))
                .order_by(orm.FlowRun.created, orm.FlowRun.id)
                .limit(limit + 1 - total)
            )
        ).scalars()
        frontier = []
        for row in rows:
            if row.id in seen:
                continue
            seen.add(row.id)
            total += 1
            node = TreeNode(row)
            nodes[row.id] = node
            if row.parent_flow_run_id == run_id:
                roots.append(node)
            elif row.parent_flow_run_id in nodes:
                nodes[row.parent_flow_run_id].children.append(node)
            frontier.append(row.id)
    return roots, total


@dataclass(frozen=True)
class TaskFilters:
    """The run page's task-run filter and page."""

    states: tuple[str, ...] = ()
    page: int = 1
    per_page: int = 100


async def task_counts(session: AsyncSession, flow_run_id: str) -> dict[str, int]:
    """Task runs of a run (mapped children included) per state type."""
    query = (
        select(orm.TaskRun.state_type, func.count())
        .where(orm.TaskRun.flow_run_id == flow_run_id)
        .group_by(orm.TaskRun.state_type)
    )
    return {str(k or "None"): int(n) for k, n in (await session.execute(query)).all()}


def _task_filter(flow_run_id: str, f: TaskFilters) -> Any:
    task = orm.TaskRun
    clause = and_(task.flow_run_id == flow_run_id, task.map_index == -1)
    if f.states:
        child = orm.TaskRun.__table__.alias("child")
        has_child = exists().where(
            child.c.flow_run_id == flow_run_id,
            child.c.task_slug == task.task_slug,
            child.c.map_index >= 0,
            child.c.state_type.in_(f.states),
        )
        clause = and_(clause, or_(task.state_type.in_(f.states), has_child))
    return clause


async def task_rows(
    session: AsyncSession, flow_run_id: str, f: TaskFilters
) -> tuple[list[orm.TaskRun], int]:
    """One page of a run's tasks (mapped children folded into their task) and the
    number of tasks that pass the filter.

    A task passes a state filter when it or one of its mapped children is in one of the
    states.
    """
    clause = _task_filter(flow_run_id, f)
    total = int(
        (
            await session.execute(select(func.count()).select_from(orm.TaskRun).where(clause))
        ).scalar_one()
    )
    query = (
        select(orm.TaskRun)
        .where(clause)
        .order_by(
            orm.TaskRun.start_time.is_(None),
            orm.TaskRun.start_time,
            orm.TaskRun.task_slug,
        )
        .offset((max(1, f.page) - 1) * f.per_page)
        .limit(f.per_page)
    )
    return list((await session.execute(query)).scalars()), total


async def mapped_summary(
    session: AsyncSession, flow_run_id: str, slugs: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Mapped children per task slug and state type, for the given tasks."""
    if not slugs:
        return {}
    query = (
        select(orm.TaskRun.task_slug, orm.TaskRun.state_type, func.count())
        .where(
            orm.TaskRun.flow_run_id == flow_run_id,
            orm.TaskRun.map_index >= 0,
            orm.TaskRun.task_slug.in_(list(slugs)),
        )
        .group_by(orm.TaskRun.task_slug, orm.TaskRun.state_type)
    )
    summary: dict[str, dict[str, int]] = {}
    for slug, state_type, count in (await session.execute(query)).all():
        summary.setdefault(str(slug), {})[str(state_type or "None")] = int(count)
    return summary


async def mapped_children(
    session: AsyncSession,
    flow_run_id: str,
    slug: str,
    *,
    states: Sequence[str] = (),
    page: int = 1,
    per_page: int = 100,
) -> tuple[list[orm.TaskRun], int]:
    """One page of a mapped task's children, by map index, and how many pass the filter."""
    clause = and_(
        orm.TaskRun.flow_run_id == flow_run_id,
        orm.TaskRun.task_slug == slug,
        orm.TaskRun.map_index >= 0,
    )
    if states:
        clause = and_(clause, orm.TaskRun.state_type.in_(list(states)))
    total = int(
        (
            await session.execute(select(func.count()).select_from(orm.TaskRun).where(clause))
        ).scalar_one()
    )
    rows = (
        await session.execute(
            select(orm.TaskRun)
            .where(clause)
            .order_by(orm.TaskRun.map_index)
            .offset((max(1, page) - 1) * per_page)
            .limit(per_page)
        )
    ).scalars()
    return list(rows), total


async def gantt_rows(
    session: AsyncSession, flow_run_id: str, limit: int = 300
) -> tuple[list[tuple[str, str, Any, Any, str | None, int]], int]:
    """Per task (children folded in): slug, name, first start, last end, the task's
    own state, number of mapped children; earliest start first, at most ``limit``.

    Returns:
        ``(rows, started)`` where ``started`` counts every task that has started.
    """
    task = orm.TaskRun
    started = func.min(task.start_time)
    query = (
        select(
            task.task_slug,
            func.max(task.task_name),
            started,
            func.max(task.end_time),
            func.max(case((task.map_index == -1, task.state_type))),
            func.sum(case((task.map_index >= 0, 1), else_=0)),
            func.sum(case((and_(task.start_time.is_not(None), task.end_time.is_(None)), 1))),
        )
        .where(task.flow_run_id == flow_run_id)
        .group_by(task.task_slug)
        .having(started.is_not(None))
    )
    count = int(
        (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    )
    rows = (await session.execute(query.order_by(started, task.task_slug).limit(limit))).all()
    out: list[tuple[str, str, Any, Any, str | None, int]] = []
    for slug, name, start, end, state_type, children, unfinished in rows:
        # A task with a child still running has not ended yet.
        out.append(
            (
                str(slug),
                str(name or slug),
                _aware(start),
                None if unfinished else _aware(end),
                state_type,
                int(children or 0),
            )
        )
    return out, count


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
    return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


async def log_lines(
    session: AsyncSession,
    flow_run_id: str,
    *,
    level: str | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[orm.Log]:
    """A run's log lines at ``level`` or above: the newest ``limit`` in order, or with
    ``after_id`` the first ``limit`` after that id (live tail)."""
    query = select(orm.Log).where(orm.Log.flow_run_id == flow_run_id)
    if level in LEVELS:
        query = query.where(orm.Log.level.in_(LEVELS[LEVELS.index(level) :]))
    if after_id is not None:
        query = query.where(orm.Log.id > after_id).order_by(orm.Log.id).limit(limit)
        return list((await session.execute(query)).scalars())
    query = query.order_by(orm.Log.id.desc()).limit(limit)
    rows = list((await session.execute(query)).scalars())
    rows.reverse()
    return rows


@dataclass(frozen=True)
class AgentRow:
    """An agent with its health and the number of runs it is executing."""

    agent: orm.Agent
    healthy: bool
    in_flight: int


@dataclass(frozen=True)
class LateRun:
    """A due run nobody has picked up, and why."""

    run: orm.FlowRun
    due: dt.datetime
    reason: str


async def agents_overview(
    session: AsyncSession, *, now: dt.datetime, healthy_within: float, late_after: float
) -> tuple[list[AgentRow], list[LateRun]]:
    """Agents (most recently seen first) and late runs that no healthy agent can take.

    Args:
        now: The current time.
        healthy_within: An agent seen this many seconds ago or less counts as healthy.
        late_after: A Scheduled run due longer ago than this counts as late.
    """
    agents = list(
        (
            await session.execute(
                select(orm.Agent).order_by(orm.Agent.last_seen.desc(), orm.Agent.created.desc())
            )
        ).scalars()
    )
    counts = dict(
        (
            await session.execute(
                select(orm.FlowRun.agent_id, func.count())
                .where(orm.FlowRun.state_type.in_(IN_FLIGHT), orm.FlowRun.agent_id.is_not(None))
                .group_by(orm.FlowRun.agent_id)
            )
        ).all()
    )
    horizon = now - dt.timedelta(seconds=healthy_within)
    rows = [
        AgentRow(
            agent=a,
            healthy=a.last_seen is not None and a.last_seen >= horizon,
            in_flight=int(counts.get(a.id, 0)),
        )
        for a in agents
    ]
    due = func.coalesce(orm.FlowRun.state_start_time, orm.FlowRun.scheduled_start_time)
    late = (
        await session.execute(
            select(orm.FlowRun)
            .where(
                orm.FlowRun.state_type.in_(sorted(families.SCHEDULED)),
                due <= now - dt.timedelta(seconds=late_after),
            )
            .order_by(due)
            .limit(200)
        )
    ).scalars()
    healthy = [r.agent for r in rows if r.healthy]
    stuck: list[LateRun] = []
    for run in late:
        if any(labels_fit(run.labels, a.labels) for a in healthy):
            continue
        labels = ", ".join(run.labels or []) or "no labels"
        if any(labels_fit(run.labels, r.agent.labels) for r in rows):
            reason = f"Only agents not seen lately can take a run with {labels}."
        elif not rows:
            reason = "No agent is registered."
        else:
            reason = f"No agent has the labels this run needs ({labels})."
        start = run.state_start_time or run.scheduled_start_time
        stuck.append(LateRun(run=run, due=start, reason=reason))
    return rows, stuck


@dataclass(frozen=True)
class ProjectRow:
    """A project with its flows (newest version of each group) and run counts."""

    project: orm.Project
    flows: list[orm.Flow]
    runs: int


async def projects_overview(session: AsyncSession) -> list[ProjectRow]:
    """Every project with its flow groups and run totals."""
    projects = list(
        (await session.execute(select(orm.Project).order_by(orm.Project.name))).scalars()
    )
    newest = (
        select(orm.Flow.flow_group_id, func.max(orm.Flow.version).label("version"))
        .group_by(orm.Flow.flow_group_id)
        .subquery()
    )
    flows = (
        await session.execute(
            select(orm.Flow)
            .join(
                newest,
                and_(
                    orm.Flow.flow_group_id == newest.c.flow_group_id,
                    orm.Flow.version == newest.c.version,
                ),
            )
            .order_by(orm.Flow.name)
        )
    ).scalars()
    by_project: dict[str, list[orm.Flow]] = {}
    for flow in flows:
        by_project.setdefault(flow.project_id, []).append(flow)
    runs = dict(
        (
            await session.execute(
                select(orm.FlowRun.project_name, func.count()).group_by(orm.FlowRun.project_name)
            )
        ).all()
    )
    return [
        ProjectRow(project=p, flows=by_project.get(p.id, []), runs=int(runs.get(p.name, 0)))
        for p in projects
    ]
