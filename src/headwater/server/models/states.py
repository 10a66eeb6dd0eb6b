"""Writing a state onto a run: current-state columns, history row, derived times.

Contract: :func:`write_state` is the single place that changes a run's state columns. It
does not check any rule; callers are ``orchestration`` (for every change) and the run
creators (for a run's first state). It bumps ``version`` by one, stamps the server time,
fills ``start_time`` for scheduled states that lack one, maintains the run's
``start_time`` (first Running), ``end_time`` (finished) and ``heartbeat`` (Running,
Submitted), and appends the history row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.models.errors import InvalidInput
from headwater.server.schemas.states import ALL_TYPES, FINISHED, SCHEDULED

__all__ = [
    "apply_state",
    "insert_history",
    "parse_time",
    "read_history",
    "validate_state",
    "write_state",
]


def parse_time(value: Any, what: str) -> dt.datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC.

    Raises:
        InvalidInput: ``value`` is not an ISO-8601 string.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"{what} is not an ISO-8601 timestamp: {value!r}.") from None
    else:
        raise InvalidInput(f"{what} must be an ISO-8601 string, got {type(value).__name__}.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def validate_state(state: dict[str, Any]) -> None:
    """Check that ``state`` names a known state type.

    Raises:
        InvalidInput: Missing or unknown ``type``.
    """
    state_type = state.get("type")
    if not isinstance(state_type, str) or state_type not in ALL_TYPES:
        known = ", ".join(sorted(ALL_TYPES))
        raise InvalidInput(f"Unknown state type {state_type!r}; expected one of: {known}.")


async def write_state(
    session: AsyncSession,
    run: orm.FlowRun | orm.TaskRun,
    state: dict[str, Any],
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Make ``state`` the run's current state and append it to the history.

    Returns:
        The state as stored (with ``timestamp`` and, for scheduled states, ``start_time``).
    """
    stored, history = apply_state(run, state, now=now)
    session.add(history)
    return stored


async def insert_history(
    session: AsyncSession, rows: list[orm.FlowRunState | orm.TaskRunState]
) -> None:
    """Insert many history rows (built by :func:`apply_state`) with one statement per kind.

    The ORM would insert them one by one to read back each autoincrement id, which
    nothing needs; an executemany does them at once. Call it after the runs they belong
    to are flushed.
    """
    flow_rows = [r for r in rows if isinstance(r, orm.FlowRunState)]
    task_rows = [r for r in rows if isinstance(r, orm.TaskRunState)]
    if flow_rows:
        await session.execute(
            insert(orm.FlowRunState),
            [
                {
                    "flow_run_id": r.flow_run_id,
                    "version": r.version,
                    "timestamp": r.timestamp,
                    "type": r.type,
                    "message": r.message,
                    "serialized": r.serialized,
                }
                for r in flow_rows
            ],
        )
    if task_rows:
        await session.execute(
            insert(orm.TaskRunState),
            [
                {
                    "task_run_id": r.task_run_id,
                    "version": r.version,
                    "timestamp": r.timestamp,
                    "type": r.type,
                    "message": r.message,
                    "serialized": r.serialized,
                }
                for r in task_rows
            ],
        )


def apply_state(
    run: orm.FlowRun | orm.TaskRun,
    state: dict[str, Any],
    *,
    now: dt.datetime | None = None,
) -> tuple[dict[str, Any], orm.FlowRunState | orm.TaskRunState]:
    """Set the run's state columns and build its history row, without a session.

    Run creators use this to insert a run together with its first state in one go.

    Returns:
        The state as stored, and the history row (not added to any session).
    """
    validate_state(state)
    now = now or orm.utcnow()
    state_type: str = state["type"]
    stored = dict(state)
    stored["timestamp"] = now.isoformat()
    state_start: dt.datetime | None = None
    if state_type in SCHEDULED or state_type == "Queued":
        if stored.get("start_time"):
            state_start = parse_time(stored["start_time"], "state.start_time")
        elif state_type != "Paused":
            state_start = now
        stored["start_time"] = state_start.isoformat() if state_start else None
    message = stored.get("message")
    if message is not None and not isinstance(message, str):
        message = str(message)
        stored["message"] = message

    run.version = (run.version or 0) + 1
    run.state = stored
    run.state_type = state_type
    run.state_message = message
    run.state_timestamp = now
    run.updated = now
    if state_type == "Running":
        if run.start_time is None:
            run.start_time = now
        run.heartbeat = now
    elif state_type in FINISHED:
        run.end_time = now
    if isinstance(run, orm.FlowRun):
        run.state_start_time = state_start
        if state_type == "Submitted":
            run.heartbeat = now
        history: orm.FlowRunState | orm.TaskRunState = orm.FlowRunState(
            flow_run_id=run.id,
            version=run.version,
            timestamp=now,
            type=state_type,
            message=message,
            serialized=stored,
        )
    else:
        if state_type == "Running":
            run.run_count = (run.run_count or 0) + 1
        history = orm.TaskRunState(
            task_run_id=run.id,
            version=run.version,
            timestamp=now,
            type=state_type,
            message=message,
            serialized=stored,
        )
    return stored, history


async def read_history(
    session: AsyncSession, *, flow_run_id: str | None = None, task_run_id: str | None = None
) -> list[dict[str, Any]]:
    """A run's state history, oldest first, as ``{version, timestamp, state}``."""
    if flow_run_id is not None:
        query: Any = (
            select(orm.FlowRunState)
            .where(orm.FlowRunState.flow_run_id == flow_run_id)
            .order_by(orm.FlowRunState.version)
        )
    else:
        query = (
            select(orm.TaskRunState)
            .where(orm.TaskRunState.task_run_id == task_run_id)
            .order_by(orm.TaskRunState.version)
        )
    rows = (await session.execute(query)).scalars()
    return [{"version": r.version, "timestamp": r.timestamp, "state": r.serialized} for r in rows]
