"""Pages and fragments of the web UI (reads only).

Contract: every route here needs the UI login (see ``_auth``) and answers HTML. A page
(``/``, ``/runs/{id}``, ``/flow-groups/{id}``, ``/agents``, ``/projects``) renders whole; each
live part of a page is also served alone under ``/ui/...`` so that the browser can swap it
in when the event stream says it changed. Unknown ids answer 404 pages, bad filters 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from headwater.server import orchestration
from headwater.server.database import orm
from headwater.server.models.artifacts import read_artifacts
from headwater.server.schemas import states as families
from headwater.server.ui import _charts, _queries
from headwater.server.ui._guard import require_login
from headwater.server.ui._render import render
from headwater.server.ui._schedules import schedule_panel

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)

#: A run page draws the schematic at once up to this many tasks, behind a click above it.
SCHEMATIC_INLINE = 300
#: Largest schematic drawn at all.
SCHEMATIC_MAX = 10_000
#: An agent seen this long ago or less counts as healthy (its long-poll is 30 s).
AGENT_HEALTHY_WITHIN = 90.0
_STATE_CHOICES = sorted(families.ALL_TYPES)


class BadFilter(ValueError):
    """A filter value that cannot be read."""


def _db(request: Request) -> Any:
    return request.app.state.db


def _time(raw: str | None, what: str) -> dt.datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadFilter(
            f"{what} must be a date and time such as 2026-01-31T08:00, got {raw!r}."
        ) from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _states(raw: list[str] | None) -> tuple[str, ...]:
    chosen = tuple(s for s in (raw or []) if s)
    unknown = [s for s in chosen if s not in families.ALL_TYPES]
    if unknown:
        raise BadFilter(f"Unknown state {unknown[0]!r}; choose one of the listed states.")
    return chosen


def _run_filters(request: Request) -> tuple[_queries.RunFilters, str | None]:
    q = request.query_params
    try:
        page = int(q.get("page") or 1)
    except ValueError:
        page = 1
    try:
        f = _queries.RunFilters(
            states=_states(q.getlist("state")),
            flow=(q.get("flow") or "").strip()[:255] or None,
            project=(q.get("project") or "").strip()[:255] or None,
            label=(q.get("label") or "").strip()[:255] or None,
            since=_time(q.get("since"), "From"),
            until=_time(q.get("until"), "To"),
            top_level=q.get("top") in ("1", "on", "true"),
            page=min(max(page, 1), 10**6),
        )
        return f, None
    except BadFilter as exc:
        return _queries.RunFilters(), str(exc)


async def _runs_context(request: Request) -> tuple[dict[str, Any], int]:
    f, error = _run_filters(request)
    async with _db(request).read_session() as session:
        counts = await _queries.run_counts(session, f)
        rows = await _queries.runs_page(session, f)
        projects = [
            p.name
            for p in (
                await session.execute(select(orm.Project).order_by(orm.Project.name))
            ).scalars()
        ]
    total = sum(n for s, n in counts.items() if not f.states or s in f.states)
    pages = max(1, -(-total // f.per_page))
    context = {
        "filters": f,
        "error": error,
        "counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "runs": rows,
        "total": total,
        "pages": pages,
        "projects": projects,
        "state_choices": _STATE_CHOICES,
        "query": _query_without(request, "page"),
    }
    return context, 422 if error else 200


def _query_without(request: Request, *names: str) -> str:
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in names]
    return urlencode(items)


@router.get("/", response_class=HTMLResponse)
async def runs_page(request: Request) -> Response:
    """The runs list."""
    context, status = await _runs_context(request)
    return render(request, "runs.html", status_code=status, nav="runs", **context)


@router.get("/ui/fragments/runs", response_class=HTMLResponse)
async def runs_fragment(request: Request) -> Response:
    """The runs list's counts and table alone (live refresh)."""
    context, status = await _runs_context(request)
    return render(request, "_runs_body.html", status_code=status, **context)


# -- run ----------------------------------------------------------------------------


async def _require_run(session: Any, flow_run_id: str) -> orm.FlowRun:
    run = await session.get(orm.FlowRun, flow_run_id[:64])
    if run is None:
        raise PageNotFound(f"Flow run {flow_run_id!r} not found.")
    return run  # type: ignore[no-any-return]


class PageNotFound(LookupError):
    """A page's subject does not exist (rendered as a 404 page)."""


async def _header(session: Any, run: orm.FlowRun) -> dict[str, Any]:
    agent = await session.get(orm.Agent, run.agent_id) if run.agent_id else None
    flow = await session.get(orm.Flow, run.flow_id)
    return {
        "run": run,
        "agent": agent,
        "flow": flow,
        "finished": families.is_finished(run.state_type),
        "restart_available": run.state_type in orchestration.RESTARTABLE,
    }


async def _lineage(session: Any, run: orm.FlowRun) -> dict[str, Any]:
    chain = await _queries.ancestors(session, run)
    tree, total = await _queries.descendants(session, run.id)
    ids = [run.id, *(r.id for r in chain)]

    def collect(nodes: list[_queries.TreeNode]) -> None:
        for node in nodes:
            ids.append(node.run.id)
            collect(node.children)

    collect(tree)
    return {"run": run, "ancestors": chain, "tree": tree, "tree_total": total, "live_ids": ids}


def _task_filters(request: Request) -> _queries.TaskFilters:
    q = request.query_params
    try:
        page = int(q.get("task_page") or 1)
    except ValueError:
        page = 1
    states = tuple(s for s in q.getlist("task_state") if s in families.ALL_TYPES)
    return _queries.TaskFilters(states=states, page=min(max(page, 1), 10**6))


async def _tasks(session: Any, run: orm.FlowRun, f: _queries.TaskFilters) -> dict[str, Any]:
    counts = await _queries.task_counts(session, run.id)
    rows, total = await _queries.task_rows(session, run.id, f)
    mapped = await _queries.mapped_summary(session, run.id, [r.task_slug for r in rows])
    return {
        "run": run,
        "task_counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "task_total": sum(counts.values()),
        "tasks": rows,
        "tasks_matching": total,
        "task_pages": max(1, -(-total // f.per_page)),
        "task_filters": f,
        "mapped": mapped,
    }


async def _gantt(session: Any, run: orm.FlowRun) -> dict[str, Any]:
    rows, started = await _queries.gantt_rows(session, run.id)
    history = await _history(session, run.id)
    now = dt.datetime.now(dt.UTC)
    chart = _charts.gantt(
        [
            _charts.GanttRow(slug=s, name=n, start=a, end=b, state_type=t, children=c)
            for s, n, a, b, t, c in rows
        ],
        [(h.timestamp, h.type) for h in history],
        run_start=run.start_time,
        run_end=run.end_time if families.is_finished(run.state_type) else None,
        now=now,
    )
    return {"run": run, "chart": chart, "gantt_started": started, "gantt_shown": len(rows)}


async def _history(session: Any, flow_run_id: str) -> list[orm.FlowRunState]:
    result = await session.execute(
        select(orm.FlowRunState)
        .where(orm.FlowRunState.flow_run_id == flow_run_id)
        .order_by(orm.FlowRunState.version)
    )
    return list(result.scalars())


async def _schematic(session: Any, run: orm.FlowRun, *, force: bool) -> dict[str, Any]:
    flow = await session.get(orm.Flow, run.flow_id)
    serialized = (flow.serialized_flow if flow is not None else None) or {}
    tasks = [t for t in (serialized.get("tasks") or []) if isinstance(t, dict)]
    edges = [e for e in (serialized.get("edges") or []) if isinstance(e, dict)]
    size = len(tasks)
    context: dict[str, Any] = {"run": run, "schematic_size": size, "layout": None}
    if size == 0 or size > SCHEMATIC_MAX or (size > SCHEMATIC_INLINE and not force):
        return context
    layout = _charts.layered_layout(tasks, edges)
    states = dict(
        (
            await session.execute(
                select(orm.TaskRun.task_slug, orm.TaskRun.state_type).where(
                    orm.TaskRun.flow_run_id == run.id, orm.TaskRun.map_index == -1
                )
            )
        ).all()
    )
    context.update(
        layout=layout,
        node_states=states,
        node_width=_charts.NODE_WIDTH,
        node_height=_charts.NODE_HEIGHT,
    )
    return context


def _safe_link(link: Any) -> str | None:
    """The link of a link artifact if it is safe to put in ``href`` (http(s) or a path)."""
    if not isinstance(link, str):
        return None
    text = link.strip()
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")) or (
        text.startswith("/") and not text.startswith("//")
    ):
        return text
    return None


async def _artifacts(session: Any, run: orm.FlowRun) -> dict[str, Any]:
    rows = await read_artifacts(session, flow_run_id=run.id, limit=200)
    task_ids = {a.task_run_id for a in rows if a.task_run_id}
    names: dict[str, str] = {}
    if task_ids:
        result = await session.execute(
            select(
                orm.TaskRun.id, orm.TaskRun.task_name, orm.TaskRun.task_slug, orm.TaskRun.map_index
            ).where(orm.TaskRun.id.in_(task_ids))
        )
        for tid, name, slug, index in result.all():
            names[tid] = f"{name or slug}" + (f"[{index}]" if index >= 0 else "")
    items = [
        {
            "kind": a.kind,
            "task": names.get(a.task_run_id or "", ""),
            "link": (a.data or {}).get("link"),
            "href": _safe_link((a.data or {}).get("link")),
            "markdown": (a.data or {}).get("markdown"),
            "updated": a.updated,
        }
        for a in rows
    ]
    return {"run": run, "artifacts": items}


def _level(request: Request) -> str:
    level = (request.query_params.get("level") or "").upper()
    return level if level in _queries.LEVELS else ""


async def _logs(session: Any, run: orm.FlowRun, level: str) -> dict[str, Any]:
    lines = await _queries.log_lines(session, run.id, level=level or None)
    last = max((line.id for line in lines), default=0)
    if not lines:
        newest = (
            await session.execute(select(func.max(orm.Log.id)).where(orm.Log.flow_run_id == run.id))
        ).scalar_one()
        last = int(newest or 0)
    return {
        "run": run,
        "logs": lines,
        "log_level": level,
        "last_log_id": last,
        "levels": _queries.LEVELS,
    }


@router.get("/runs/{flow_run_id}", response_class=HTMLResponse)
async def run_page(request: Request, flow_run_id: str) -> Response:
    """One flow run."""
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context: dict[str, Any] = {}
        context.update(await _header(session, run))
        context.update(await _lineage(session, run))
        context.update(await _tasks(session, run, _task_filters(request)))
        context.update(await _gantt(session, run))
        context.update(await _schematic(session, run, force=False))
        context.update(await _logs(session, run, _level(request)))
        context.update(await _artifacts(session, run))
        context["history"] = await _history(session, run.id)
    return render(request, "run.html", nav="runs", **context)


@router.get("/flow-run/{flow_run_id}")
async def prefect_style_run_link(flow_run_id: str) -> Response:
    """``/flow-run/{id}`` (the path of Prefect 1's UI, used by link artifacts to child
    runs) leads to the run's page."""
    return RedirectResponse(f"/runs/{quote(flow_run_id[:64], safe='')}", status_code=308)


@router.get("/ui/runs/{flow_run_id}/header", response_class=HTMLResponse)
async def run_header(request: Request, flow_run_id: str) -> Response:
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _header(session, run)
    return render(request, "_run_header.html", **context)


@router.get("/ui/runs/{flow_run_id}/lineage", response_class=HTMLResponse)
async def run_lineage(request: Request, flow_run_id: str) -> Response:
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _lineage(session, run)
    return render(request, "_run_lineage.html", **context)


@router.get("/ui/runs/{flow_run_id}/tasks", response_class=HTMLResponse)
async def run_tasks(request: Request, flow_run_id: str) -> Response:
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _tasks(session, run, _task_filters(request))
    return render(request, "_run_tasks.html", **context)


@router.get("/ui/runs/{flow_run_id}/children", response_class=HTMLResponse)
async def mapped_children(
    request: Request,
    flow_run_id: str,
    slug: str = Query(max_length=255),
    page: int = Query(1, ge=1, le=10**6),
) -> Response:
    """A mapped task's children, one page."""
    f = _task_filters(request)
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        rows, total = await _queries.mapped_children(
            session, run.id, slug, states=f.states, page=page
        )
    return render(
        request,
        "_mapped_children.html",
        run=run,
        slug=slug,
        children=rows,
        children_total=total,
        page=page,
        pages=max(1, -(-total // 100)),
        task_filters=f,
    )


@router.get("/ui/runs/{flow_run_id}/gantt", response_class=HTMLResponse)
async def run_gantt(request: Request, flow_run_id: str) -> Response:
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _gantt(session, run)
    return render(request, "_run_gantt.html", **context)


@router.get("/ui/runs/{flow_run_id}/schematic", response_class=HTMLResponse)
async def run_schematic(request: Request, flow_run_id: str) -> Response:
    """The flow's schematic, drawn whatever its size (up to the maximum)."""
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _schematic(session, run, force=True)
    return render(request, "_run_schematic.html", **context)


@router.get("/ui/runs/{flow_run_id}/artifacts", response_class=HTMLResponse)
async def run_artifacts(request: Request, flow_run_id: str) -> Response:
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _artifacts(session, run)
    return render(request, "_run_artifacts.html", **context)


@router.get("/ui/runs/{flow_run_id}/history", response_class=HTMLResponse)
async def run_history(request: Request, flow_run_id: str) -> Response:
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        history = await _history(session, run.id)
    return render(request, "_run_history.html", run=run, history=history)


@router.get("/ui/runs/{flow_run_id}/logs", response_class=HTMLResponse)
async def run_logs(request: Request, flow_run_id: str) -> Response:
    """The log panel (newest 1,000 lines at the chosen level)."""
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        context = await _logs(session, run, _level(request))
    return render(request, "_run_logs.html", **context)


@router.get("/ui/runs/{flow_run_id}/logs/rows", response_class=HTMLResponse)
async def run_log_rows(
    request: Request, flow_run_id: str, after_id: int = Query(0, ge=0, le=2**63 - 1)
) -> Response:
    """Log lines after ``after_id`` (the live tail); ``X-Last-Log-Id`` names the last."""
    async with _db(request).read_session() as session:
        run = await _require_run(session, flow_run_id)
        lines = await _queries.log_lines(
            session, run.id, level=_level(request) or None, after_id=after_id
        )
    last = max((line.id for line in lines), default=after_id)
    return render(request, "_log_rows.html", logs=lines, headers={"X-Last-Log-Id": str(last)})


# -- flow group ---------------------------------------------------------------------


async def _group_context(session: Any, group_id: str, settings: Any) -> dict[str, Any]:
    group = await session.get(orm.FlowGroup, group_id[:64])
    if group is None:
        raise PageNotFound(f"Flow group {group_id!r} not found.")
    versions = list(
        (
            await session.execute(
                select(orm.Flow)
                .where(orm.Flow.flow_group_id == group.id)
                .order_by(orm.Flow.version.desc())
            )
        ).scalars()
    )
    current = next((f for f in versions if not f.archived), versions[0] if versions else None)
    parameters: list[dict[str, Any]] = []
    defaults = dict(group.default_parameters or {})
    for p in (current.parameters if current is not None else None) or []:
        default = defaults.get(p["name"], p.get("default"))
        parameters.append(dict(p, effective_default=default))
    labels = group.labels
    if labels is None and current is not None:
        labels = current.labels
    return {
        "group": group,
        "versions": versions,
        "flow": current,
        "parameters": parameters,
        "labels": labels or [],
        "run_config": group.run_config or (current.run_config if current else None),
        "schedule_panel": await schedule_panel(session, group.id, settings),
    }


async def _group_runs(request: Request, group_id: str) -> dict[str, Any]:
    f = _queries.RunFilters(flow_group_id=group_id, per_page=20)
    async with _db(request).read_session() as session:
        counts = await _queries.run_counts(session, f)
        rows = await _queries.runs_page(session, f)
    return {
        "group_id": group_id,
        "runs": rows,
        "counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


@router.get("/flow-groups/{group_id}", response_class=HTMLResponse)
async def flow_group_page(request: Request, group_id: str) -> Response:
    """A flow (all its versions): parameters, labels, run config, run form, runs."""
    async with _db(request).read_session() as session:
        context = await _group_context(session, group_id, request.app.state.settings)
    context.update(await _group_runs(request, context["group"].id))
    return render(
        request, "flow_group.html", nav="projects", form_error=None, form_values={}, **context
    )


@router.get("/ui/flow-groups/{group_id}/runs", response_class=HTMLResponse)
async def flow_group_runs(request: Request, group_id: str) -> Response:
    return render(request, "_group_runs.html", **await _group_runs(request, group_id[:64]))


@router.get("/ui/flow-groups/{group_id}/schedule", response_class=HTMLResponse)
async def flow_group_schedule(request: Request, group_id: str) -> Response:
    """The schedule panel (live part of the flow page)."""
    async with _db(request).read_session() as session:
        group = await session.get(orm.FlowGroup, group_id[:64])
        if group is None:
            raise PageNotFound(f"Flow group {group_id!r} not found.")
        panel = await schedule_panel(session, group.id, request.app.state.settings)
    return render(request, "_group_schedule.html", schedule_panel=panel, oob=False)


@router.get("/flows/{flow_id}", response_class=HTMLResponse)
async def flow_page(request: Request, flow_id: str) -> Response:
    """A flow version: redirects to its flow group's page."""
    async with _db(request).read_session() as session:
        flow = await session.get(orm.Flow, flow_id[:64])
        if flow is None:
            raise PageNotFound(f"Flow {flow_id!r} not found.")
    return RedirectResponse(f"/flow-groups/{flow.flow_group_id}", status_code=303)


# -- agents and projects ------------------------------------------------------------


async def _agents_context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    async with _db(request).read_session() as session:
        agents, late = await _queries.agents_overview(
            session,
            now=dt.datetime.now(dt.UTC),
            healthy_within=AGENT_HEALTHY_WITHIN,
            late_after=float(settings.late_after),
        )
    return {"agents": agents, "late": late, "healthy_within": int(AGENT_HEALTHY_WITHIN)}


@router.get("/agents", response_class=HTMLResponse)
async def agents_page(request: Request) -> Response:
    """Agents, their health and load, and runs that no agent can take."""
    return render(request, "agents.html", nav="agents", **await _agents_context(request))


@router.get("/ui/fragments/agents", response_class=HTMLResponse)
async def agents_fragment(request: Request) -> Response:
    return render(request, "_agents_body.html", **await _agents_context(request))


@router.get("/projects", response_class=HTMLResponse)
async def projects_page(request: Request) -> Response:
    """Projects and their flows."""
    async with _db(request).read_session() as session:
        rows = await _queries.projects_overview(session)
    return render(request, "projects.html", nav="projects", projects=rows)


@router.get("/ui/fragments/projects", response_class=HTMLResponse)
async def projects_fragment(request: Request) -> Response:
    async with _db(request).read_session() as session:
        rows = await _queries.projects_overview(session)
    return render(request, "_projects_body.html", projects=rows)
