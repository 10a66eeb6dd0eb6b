"""Flow-run queries: creation (idempotent per flow group), reads, filters, updates.

Contract:

- :func:`create_flow_run` resolves the flow version (by id, flow group or name), merges
  parameters (declared defaults < group defaults < supplied), picks labels and run_config
  by the documented precedence, and inserts the run with state Scheduled. A repeated
  ``idempotency_key`` within the flow group returns the existing run unchanged, also when
  many requests race: the unique constraint decides and the losers re-read.
- The run's tasks (``flow.tasks``) get a Pending task run each (map_index -1).
- :func:`create_flow_runs` creates many in one transaction, each spec as above (keys
  per spec), with one key lookup per flow group and one insert.
- Changes queue events (``flow_run.created`` / ``flow_run.updated``) that are published
  after the caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.database.engine import insert_unique
from headwater.server.models._lineage import check_nesting
from headwater.server.models._names import random_run_name
from headwater.server.models._rows import require_row
from headwater.server.models.errors import Conflict, InvalidInput, NotFound
from headwater.server.models.flows import newest_unarchived_flow
from headwater.server.models.states import apply_state, insert_history, read_history

__all__ = [
    "create_flow_run",
    "create_flow_runs",
    "delete_flow_run",
    "new_flow_run_rows",
    "queue_created",
    "read_children",
    "read_flow_run",
    "read_flow_run_states",
    "read_flow_runs",
    "read_state_rows_after",
    "refresh_flow_runs",
    "require_flow_run",
    "set_flow_run_labels",
    "set_flow_run_name",
    "update_heartbeat",
]


async def _resolve_flow(
    session: AsyncSession,
    *,
    flow_id: str | None,
    flow_group_id: str | None,
    flow_name: str | None,
    project_name: str | None,
) -> orm.Flow:
    if flow_id is not None:
        flow = await session.get(orm.Flow, flow_id)
        if flow is None:
            raise NotFound(f"Flow {flow_id} not found.")
        return flow
    if flow_group_id is not None:
        return await newest_unarchived_flow(session, flow_group_id)
    if flow_name is None:
        raise InvalidInput("Give one of flow_id, flow_group_id or flow_name.")
    query = select(orm.Flow).where(orm.Flow.name == flow_name, orm.Flow.archived.is_(False))
    if project_name is not None:
        query = query.where(orm.Flow.project_name == project_name)
    flows = list((await session.execute(query.order_by(orm.Flow.version.desc()))).scalars())
    if not flows:
        where = f" in project {project_name!r}" if project_name is not None else ""
        raise NotFound(f"No unarchived flow named {flow_name!r}{where}.")
    projects = sorted({f.project_name for f in flows})
    if len(projects) > 1:
        raise InvalidInput(
            f"Flow name {flow_name!r} exists in several projects ({', '.join(projects)}); "
            "give project_name to choose one."
        )
    return flows[0]


def _merge_parameters(
    flow: orm.Flow, group: orm.FlowGroup, supplied: dict[str, Any] | None
) -> dict[str, Any]:
    declared: list[dict[str, Any]] = flow.parameters or []
    names = {p["name"] for p in declared}
    merged = {p["name"]: p.get("default") for p in declared if p.get("default") is not None}
    merged.update(group.default_parameters or {})
    supplied = supplied or {}
    unknown = sorted(set(supplied) - names)
    if unknown:
        declared_text = ", ".join(sorted(names)) or "none"
        raise InvalidInput(
            f"Flow {flow.name!r} has no parameter(s) {', '.join(map(repr, unknown))} "
            f"(declared: {declared_text})."
        )
    merged.update(supplied)
    missing = [p["name"] for p in declared if p.get("required") and p["name"] not in merged]
    if missing:
        raise InvalidInput(f"Required parameters were not supplied: {', '.join(missing)}.")
    return merged


def _labels_of(run_config: Any) -> list[str] | None:
    if isinstance(run_config, dict) and isinstance(run_config.get("labels"), list):
        return [str(x) for x in run_config["labels"]]
    return None


def _pick_labels(
    flow: orm.Flow,
    group: orm.FlowGroup,
    labels: list[str] | None,
    run_config: dict[str, Any] | None,
) -> list[str]:
    # First match wins (Prefect 1 semantics): explicit labels, the supplied run_config's
    # labels (a run_config without labels means no labels), group labels, group
    # run_config labels, flow run_config labels, labels given at registration.
    if labels is not None:
        chosen: list[str] | None = labels
    elif run_config is not None:
        chosen = _labels_of(run_config) or []
    elif group.labels is not None:
        chosen = list(group.labels)
    else:
        chosen = _labels_of(group.run_config)
        if chosen is None:
            chosen = _labels_of(flow.run_config)
        if chosen is None:
            chosen = list(flow.labels) if flow.labels is not None else []
    return sorted(set(chosen or []))


async def _existing_by_key(
    session: AsyncSession, flow_group_id: str, key: str
) -> orm.FlowRun | None:
    result = await session.execute(
        select(orm.FlowRun).where(
            orm.FlowRun.flow_group_id == flow_group_id, orm.FlowRun.idempotency_key == key
        )
    )
    return result.scalar_one_or_none()


def new_flow_run_rows(
    flow: orm.Flow,
    group: orm.FlowGroup,
    *,
    parameters: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    run_config: dict[str, Any] | None = None,
    name: str | None = None,
    scheduled_start_time: dt.datetime | None = None,
    idempotency_key: str | None = None,
    parent_flow_run_id: str | None = None,
    parent_task_run_id: str | None = None,
    auto_scheduled: bool = False,
) -> tuple[orm.FlowRun, list[object]]:
    """A new run of ``flow`` and every row that goes in with it (not inserted yet).

    The rows are the run, its first state (Scheduled), its labels and a Pending task run
    (with its state) per task of the flow, to insert together with ``insert_unique``.

    Raises:
        InvalidInput: unknown or missing parameters.
    """
    now = orm.utcnow()
    start = scheduled_start_time or now
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    run_labels = _pick_labels(flow, group, labels, run_config)
    run = orm.FlowRun(
        id=orm.new_id(),
        flow_id=flow.id,
        flow_group_id=flow.flow_group_id,
        flow_name=flow.name,
        project_name=flow.project_name,
        name=name or random_run_name(),
        parameters=_merge_parameters(flow, group, parameters),
        context=context or {},
        labels=run_labels,
        run_config=run_config if run_config is not None else group.run_config or flow.run_config,
        scheduled_start_time=start,
        version=0,
        idempotency_key=idempotency_key,
        parent_flow_run_id=parent_flow_run_id,
        parent_task_run_id=parent_task_run_id,
        times_resurrected=0,
        auto_scheduled=auto_scheduled,
        created=now,
        updated=now,
    )
    # The run, its first state, labels and task runs go in with one flush.
    rows: list[object] = [run]
    _, history = apply_state(
        run,
        {"type": "Scheduled", "message": "Flow run scheduled.", "start_time": start.isoformat()},
        now=now,
    )
    rows.append(history)
    rows.extend(orm.FlowRunLabel(flow_run_id=run.id, label=label) for label in run_labels)
    for task in flow.tasks or []:
        task_run = orm.TaskRun(
            id=orm.new_id(),
            flow_run_id=run.id,
            task_slug=task["slug"],
            task_name=task.get("name"),
            map_index=-1,
            version=0,
            run_count=0,
            created=now,
            updated=now,
        )
        _, task_history = apply_state(
            task_run, {"type": "Pending", "message": "Task run created"}, now=now
        )
        rows.extend((task_run, task_history))
    return run, rows


async def create_flow_run(
    session: AsyncSession,
    *,
    flow_id: str | None = None,
    flow_group_id: str | None = None,
    flow_name: str | None = None,
    project_name: str | None = None,
    parameters: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    run_config: dict[str, Any] | None = None,
    name: str | None = None,
    scheduled_start_time: dt.datetime | None = None,
    idempotency_key: str | None = None,
    parent_flow_run_id: str | None = None,
    parent_task_run_id: str | None = None,
    auto_scheduled: bool = False,
    max_depth: int | None = None,
) -> tuple[orm.FlowRun, bool]:
    """Create a flow run, or return the existing one for a repeated idempotency key.

    ``auto_scheduled`` marks a run the scheduler created from the flow group's schedule.

    Args:
        max_depth: the most ancestors the new run may have (None: no ceiling), see
            :func:`headwater.server.models._lineage.check_nesting`.

    Returns:
        ``(flow_run, created)``.

    Raises:
        NotFound: The flow, flow group or parent run does not exist.
        Conflict: The flow version is archived.
        InvalidInput: Ambiguous flow name, unknown or missing parameters, or the run
            would nest deeper than ``max_depth``.
    """
    flow = await _resolve_flow(
        session,
        flow_id=flow_id,
        flow_group_id=flow_group_id,
        flow_name=flow_name,
        project_name=project_name,
    )
    if idempotency_key is not None:
        existing = await _existing_by_key(session, flow.flow_group_id, idempotency_key)
        if existing is not None:
            return existing, False
    if flow.archived:
        raise Conflict(f"Flow {flow.id} ({flow.name!r} version {flow.version}) is archived.")
    group = await session.get(orm.FlowGroup, flow.flow_group_id)
    assert group is not None  # guaranteed by the foreign key
    if parent_flow_run_id is not None:
        if max_depth is not None:
            await check_nesting(session, parent_flow_run_id, flow.name, max_depth)
        elif await session.get(orm.FlowRun, parent_flow_run_id) is None:
            raise NotFound(f"Parent flow run {parent_flow_run_id} not found.")
    run, rows = new_flow_run_rows(
        flow,
        group,
        parameters=parameters,
        context=context,
        labels=labels,
        run_config=run_config,
        name=name,
        scheduled_start_time=scheduled_start_time,
        idempotency_key=idempotency_key,
        parent_flow_run_id=parent_flow_run_id,
        parent_task_run_id=parent_task_run_id,
        auto_scheduled=auto_scheduled,
    )
    if not await insert_unique(session, *rows):
        if idempotency_key is None:
            raise Conflict(f"Flow run {run.id} could not be created; retry the request.")
        # Another request with the same key won the race: hand back its run.
        existing = await _existing_by_key(session, flow.flow_group_id, idempotency_key)
        if existing is None:
            raise Conflict("A concurrent request created this run; retry the request.")
        return existing, False
    queue_created(session, run)
    return run, True


_SPEC_FIELDS = (
    "parameters",
    "context",
    "labels",
    "run_config",
    "name",
    "scheduled_start_time",
    "idempotency_key",
    "parent_flow_run_id",
    "parent_task_run_id",
)


async def create_flow_runs(
    session: AsyncSession, specs: list[dict[str, Any]], *, max_depth: int | None = None
) -> list[tuple[orm.FlowRun, bool]]:
    """Create many flow runs in one transaction; the bulk form of :func:`create_flow_run`.

    Each spec takes :func:`create_flow_run`'s keyword arguments and is checked the same
    way; any invalid spec fails the whole call (nothing is created) with an error naming
    its position. Idempotency keys work per spec: a key already stored, or repeated
    within the call, gives the existing run with ``created`` False. Existing keys are
    looked up with one query per flow group, flows and groups once each, and the new runs
    inserted with one flush (their history rows with one statement); when a concurrent
    request wins a race for some key, the specs are created one by one instead, each
    race-safe.

    Returns:
        ``(flow_run, created)`` per spec, in order.

    Raises:
        NotFound, Conflict, InvalidInput: as :func:`create_flow_run`, for the first bad
            spec, prefixed with ``flow_runs[<index>]``.
    """
    flows: list[orm.Flow] = []
    resolved: dict[tuple[Any, ...], orm.Flow] = {}
    for index, spec in enumerate(specs):
        which = tuple(
            spec.get(k) for k in ("flow_id", "flow_group_id", "flow_name", "project_name")
        )
        flow = resolved.get(which)
        if flow is None:
            flow = resolved[which] = await _at(
                index,
                _resolve_flow(
                    session,
                    flow_id=spec.get("flow_id"),
                    flow_group_id=spec.get("flow_group_id"),
                    flow_name=spec.get("flow_name"),
                    project_name=spec.get("project_name"),
                ),
            )
        flows.append(flow)
    existing = await _existing_by_keys(session, flows, specs)
    groups: dict[str, orm.FlowGroup] = {}
    parents_checked: set[tuple[str, str]] = set()
    answers: list[tuple[orm.FlowRun, bool]] = []
    rows: list[object] = []
    history: list[Any] = []
    new_runs: list[orm.FlowRun] = []
    claimed: dict[tuple[str, str], orm.FlowRun] = {}
    for index, (flow, spec) in enumerate(zip(flows, specs, strict=True)):
        key = spec.get("idempotency_key")
        group_key = (flow.flow_group_id, str(key)) if key is not None else None
        if group_key is not None and group_key in existing:
            answers.append((existing[group_key], False))
            continue
        if group_key is not None and group_key in claimed:
            answers.append((claimed[group_key], False))
            continue
        run, run_rows = await _at(
            index, _new_run(session, flow, spec, groups, parents_checked, max_depth)
        )
        if group_key is not None:
            claimed[group_key] = run
        for row in run_rows:
            if isinstance(row, orm.FlowRunState | orm.TaskRunState):
                history.append(row)
            else:
                rows.append(row)
        new_runs.append(run)
        answers.append((run, True))
    if rows and not await insert_unique(session, *rows):
        # A concurrent request stored one of the keys first: go one by one.
        return [
            await _at(index, create_flow_run(session, **spec, max_depth=max_depth))
            for index, spec in enumerate(specs)
        ]
    await insert_history(session, history)
    for run in new_runs:
        queue_created(session, run)
    return answers


async def _new_run(
    session: AsyncSession,
    flow: orm.Flow,
    spec: dict[str, Any],
    groups: dict[str, orm.FlowGroup],
    parents_checked: set[tuple[str, str]],
    max_depth: int | None,
) -> tuple[orm.FlowRun, list[object]]:
    """:func:`new_flow_run_rows` for one spec, with create_flow_run's checks."""
    if flow.archived:
        raise Conflict(f"Flow {flow.id} ({flow.name!r} version {flow.version}) is archived.")
    group = groups.get(flow.flow_group_id)
    if group is None:
        group = await session.get(orm.FlowGroup, flow.flow_group_id)
        assert group is not None  # guaranteed by the foreign key
        groups[flow.flow_group_id] = group
    parent = spec.get("parent_flow_run_id")
    if parent is not None and (parent, flow.name) not in parents_checked:
        if max_depth is not None:
            await check_nesting(session, parent, flow.name, max_depth)
        elif await session.get(orm.FlowRun, parent) is None:
            raise NotFound(f"Parent flow run {parent} not found.")
        parents_checked.add((parent, flow.name))
    fields: dict[str, Any] = {k: spec.get(k) for k in _SPEC_FIELDS}
    return new_flow_run_rows(flow, group, **fields)


async def _at(index: int, step: Any) -> Any:
    """Await ``step``; a domain error names the spec's position in a bulk request."""
    try:
        return await step
    except (NotFound, Conflict, InvalidInput) as exc:
        raise type(exc)(f"flow_runs[{index}]: {exc.detail}") from None


async def _existing_by_keys(
    session: AsyncSession, flows: list[orm.Flow], specs: list[dict[str, Any]]
) -> dict[tuple[str, str], orm.FlowRun]:
    """Stored runs for the specs' idempotency keys, by (flow group, key)."""
    wanted: dict[str, set[str]] = {}
    for flow, spec in zip(flows, specs, strict=True):
        if spec.get("idempotency_key") is not None:
            wanted.setdefault(flow.flow_group_id, set()).add(str(spec["idempotency_key"]))
    found: dict[tuple[str, str], orm.FlowRun] = {}
    for group_id, keys in wanted.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), 900):
            query = select(orm.FlowRun).where(
                orm.FlowRun.flow_group_id == group_id,
                orm.FlowRun.idempotency_key.in_(ordered[start : start + 900]),
            )
            for run in (await session.execute(query)).scalars():
                found[(group_id, str(run.idempotency_key))] = run
    return found


def queue_created(session: AsyncSession, run: orm.FlowRun) -> None:
    """Queue the events of a newly inserted run (published after commit)."""
    queue_event(session, "flow_run.created", flow_run_id=run.id, data={"version": run.version})
    queue_event(
        session,
        "flow_run.state",
        flow_run_id=run.id,
        data={"version": run.version, "state_type": "Scheduled"},
    )


async def read_flow_run(session: AsyncSession, flow_run_id: str) -> orm.FlowRun | None:
    """The flow run with this id, or ``None``."""
    return await session.get(orm.FlowRun, flow_run_id)


async def require_flow_run(
    session: AsyncSession, flow_run_id: str, *, for_update: bool = False
) -> orm.FlowRun:
    """The flow run with this id (optionally row-locked on PostgreSQL).

    Raises:
        NotFound: No such flow run.
    """
    return await require_row(
        session, orm.FlowRun, flow_run_id, noun="Flow run", for_update=for_update
    )


async def read_flow_runs(
    session: AsyncSession,
    *,
    flow_id: str | None = None,
    flow_group_id: str | None = None,
    flow_name: str | None = None,
    project_name: str | None = None,
    states: list[str] | None = None,
    labels: list[str] | None = None,
    parent_flow_run_id: str | None = None,
    name: str | None = None,
    scheduled_before: dt.datetime | None = None,
    scheduled_after: dt.datetime | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    auto_scheduled: bool | None = None,
    upcoming: bool = False,
    limit: int | None = 200,
    offset: int = 0,
) -> list[orm.FlowRun]:
    """Flow runs matching every filter given, newest first.

    ``labels`` keeps runs that carry all of the labels; ``states`` any of the types.
    ``upcoming`` keeps runs still ``Scheduled`` for a time after now and orders them by
    that time, soonest first; ``auto_scheduled`` keeps only scheduler-made (True) or
    only ad-hoc (False) runs.
    """
    query = select(orm.FlowRun)
    equal = {
        orm.FlowRun.flow_id: flow_id,
        orm.FlowRun.flow_group_id: flow_group_id,
        orm.FlowRun.flow_name: flow_name,
        orm.FlowRun.project_name: project_name,
        orm.FlowRun.parent_flow_run_id: parent_flow_run_id,
        orm.FlowRun.name: name,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if states:
        query = query.where(orm.FlowRun.state_type.in_(states))
    for label in labels or []:
        query = query.where(
            exists().where(
                orm.FlowRunLabel.flow_run_id == orm.FlowRun.id, orm.FlowRunLabel.label == label
            )
        )
    if scheduled_before is not None:
        query = query.where(orm.FlowRun.scheduled_start_time <= scheduled_before)
    if scheduled_after is not None:
        query = query.where(orm.FlowRun.scheduled_start_time >= scheduled_after)
    if created_after is not None:
        query = query.where(orm.FlowRun.created >= created_after)
    if created_before is not None:
        query = query.where(orm.FlowRun.created <= created_before)
    if auto_scheduled is not None:
        query = query.where(orm.FlowRun.auto_scheduled.is_(auto_scheduled))
    if upcoming:
        query = query.where(
            orm.FlowRun.state_type == "Scheduled",
            orm.FlowRun.scheduled_start_time > orm.utcnow(),
        ).order_by(orm.FlowRun.scheduled_start_time, orm.FlowRun.id)
    else:
        query = query.order_by(orm.FlowRun.created.desc(), orm.FlowRun.id)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


async def read_children(
    session: AsyncSession, flow_run_id: str, *, recursive: bool = False
) -> list[orm.FlowRun]:
    """Runs created by ``flow_run_id`` (and, if ``recursive``, by those, and so on).

    Raises:
        NotFound: No such flow run.
    """
    await require_flow_run(session, flow_run_id)
    found: list[orm.FlowRun] = []
    seen = {flow_run_id}
    frontier = [flow_run_id]
    while frontier:
        rows = list(
            (
                await session.execute(
                    select(orm.FlowRun)
                    .where(orm.FlowRun.parent_flow_run_id.in_(frontier))
                    .order_by(orm.FlowRun.created, orm.FlowRun.id)
                )
            ).scalars()
        )
        frontier = []
        for row in rows:
            if row.id not in seen:
                seen.add(row.id)
                found.append(row)
                frontier.append(row.id)
        if not recursive:
            break
    return found


async def read_flow_run_states(session: AsyncSession, flow_run_id: str) -> list[dict[str, Any]]:
    """A flow run's state history, oldest first (``{version, timestamp, state}``).

    Raises:
        NotFound: No such flow run.
    """
    await require_flow_run(session, flow_run_id)
    return await read_history(session, flow_run_id=flow_run_id)


async def read_state_rows_after(
    session: AsyncSession, flow_run_id: str, version: int
) -> list[orm.FlowRunState]:
    """A flow run's stored states after ``version``, oldest first (event streams)."""
    st = orm.FlowRunState
    return list(
        (
            await session.execute(
                select(st)
                .where(st.flow_run_id == flow_run_id, st.version > version)
                .order_by(st.version)
            )
        )
        .scalars()
        .all()
    )


async def refresh_flow_runs(session: AsyncSession, runs: Sequence[orm.FlowRun]) -> None:
    """Write pending changes and reload ``runs`` from the database, to answer with them."""
    await session.flush()
    for run in runs:
        await session.refresh(run)


async def set_flow_run_name(session: AsyncSession, flow_run_id: str, name: str) -> orm.FlowRun:
    """Rename a flow run.

    Raises:
        NotFound: No such flow run.
        InvalidInput: Empty name.
    """
    if not name.strip():
        raise InvalidInput("A flow run name must not be empty.")
    run = await require_flow_run(session, flow_run_id)
    run.name = name
    run.updated = orm.utcnow()
    await session.flush()
    queue_event(session, "flow_run.updated", flow_run_id=run.id, data={"name": name})
    return run


async def set_flow_run_labels(
    session: AsyncSession, flow_run_id: str, labels: list[str]
) -> orm.FlowRun:
    """Replace a flow run's labels (stored sorted, without duplicates).

    Raises:
        NotFound: No such flow run.
    """
    run = await require_flow_run(session, flow_run_id)
    clean = sorted(set(labels))
    run.labels = clean
    run.updated = orm.utcnow()
    await session.execute(delete(orm.FlowRunLabel).where(orm.FlowRunLabel.flow_run_id == run.id))
    session.add_all(orm.FlowRunLabel(flow_run_id=run.id, label=label) for label in clean)
    await session.flush()
    queue_event(session, "flow_run.updated", flow_run_id=run.id, data={"labels": clean})
    return run


async def delete_flow_run(session: AsyncSession, flow_run_id: str) -> None:
    """Delete a flow run with its task runs, states and logs; children lose the link.

    Raises:
        NotFound: No such flow run.
    """
    await require_flow_run(session, flow_run_id)
    await session.execute(
        update(orm.FlowRun)
        .where(orm.FlowRun.parent_flow_run_id == flow_run_id)
        .values(parent_flow_run_id=None)
        .execution_options(synchronize_session=False)
    )
    for table in (orm.Log, orm.FlowRunLabel, orm.FlowRunState):
        await session.execute(delete(table).where(table.flow_run_id == flow_run_id))
    task_ids = select(orm.TaskRun.id).where(orm.TaskRun.flow_run_id == flow_run_id)
    await session.execute(
        delete(orm.TaskRunState).where(orm.TaskRunState.task_run_id.in_(task_ids))
    )
    await session.execute(delete(orm.TaskRun).where(orm.TaskRun.flow_run_id == flow_run_id))
    await session.execute(
        delete(orm.FlowRun)
        .where(orm.FlowRun.id == flow_run_id)
        .execution_options(synchronize_session=False)
    )
    session.expunge_all()
    queue_event(session, "flow_run.updated", flow_run_id=flow_run_id, data={"deleted": True})


async def update_heartbeat(session: AsyncSession, flow_run_id: str) -> None:
    """Set a flow run's heartbeat to now.

    Raises:
        NotFound: No such flow run.
    """
    result = await session.execute(
        update(orm.FlowRun)
        .where(orm.FlowRun.id == flow_run_id)
        .values(heartbeat=orm.utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) == 0:
        raise NotFound(f"Flow run {flow_run_id} not found.")
