"""Concurrency limits: flow runs by label, task runs by tag (Prefect 1's names).

Contract:

- A *flow concurrency limit* allows at most ``limit`` flow runs carrying its label to hold
  a slot at once; a run holds a slot of each of its labels while it is in one of
  :data:`FLOW_RUN_SLOT_STATES` (claimed by an agent, running, or being cancelled). Agents
  claim within the limits (:mod:`headwater.server.models.concurrency_slots`); runs over a
  limit stay Scheduled until a slot frees.
- A *task tag limit* allows at most ``limit`` task runs whose task carries its tag to be
  in one of :data:`TASK_RUN_SLOT_STATES` at once, counting only task runs whose flow run
  is itself running (a task run left Running in a finished flow run holds nothing). A
  task run proposed Running over a limit is stored Queued instead.
- Labels and tags are non-empty strings of at most 255 characters; a limit is an integer
  from 0 (nothing may run) to 2**31 - 1. :func:`set_limit` creates or updates (one row
  per label or tag); :func:`delete_limit` removes by id.
- Every change queues a ``concurrency_limit.updated`` event, so waiting claims and
  queued task runs re-check at once when a limit is raised or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.database.engine import insert_unique
from headwater.server.models.errors import InvalidInput, NotFound

__all__ = [
    "FLOW_RUN_SLOT_STATES",
    "LIMIT_KINDS",
    "MAX_LIMIT",
    "TASK_RUN_SLOT_STATES",
    "LimitKind",
    "delete_limit",
    "flow_label_usage",
    "read_limit",
    "read_limits",
    "set_limit",
    "task_tag_usage",
]

#: Flow-run states that hold a slot of each of the run's labels.
FLOW_RUN_SLOT_STATES: frozenset[str] = frozenset({"Submitted", "Running", "Cancelling"})
#: Task-run states that hold a slot of each of the task's tags.
TASK_RUN_SLOT_STATES: frozenset[str] = frozenset({"Running", "Cancelling"})
#: Flow-run states in which a task run's Running state counts.
_LIVE_FLOW_RUN_STATES: frozenset[str] = frozenset({"Running", "Cancelling"})
#: Largest accepted limit (a 32-bit integer column).
MAX_LIMIT = 2**31 - 1

LimitKind = Literal["flow", "task"]


@dataclass(frozen=True)
class _Kind:
    table: type[orm.FlowConcurrencyLimit] | type[orm.TaskTagLimit]
    key: str  # "label" or "tag"
    what: str  # for messages


LIMIT_KINDS: dict[str, _Kind] = {
    "flow": _Kind(orm.FlowConcurrencyLimit, "label", "flow concurrency limit"),
    "task": _Kind(orm.TaskTagLimit, "tag", "task tag limit"),
}


def _check_name(kind: _Kind, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"The {kind.key} of a {kind.what} must be a non-empty string.")
    if len(name) > 255:
        raise InvalidInput(f"The {kind.key} of a {kind.what} may have at most 255 characters.")
    return name


def check_limit(value: Any) -> int:
    """The limit as an int.

    Raises:
        InvalidInput: Not an integer from 0 to :data:`MAX_LIMIT`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"A concurrency limit must be an integer, got {value!r}.")
    if value < 0:
        raise InvalidInput("Concurrency limits must be >= 0.")
    if value > MAX_LIMIT:
        raise InvalidInput(f"Concurrency limits must be at most {MAX_LIMIT}.")
    return value


def _locked(session: AsyncSession, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


async def set_limit(
    session: AsyncSession, kind: LimitKind, name: str, limit: int
) -> tuple[Any, bool]:
    """Create or update the limit of a label (``kind="flow"``) or tag (``"task"``).

    Returns:
        The row and whether it was created.

    Raises:
        InvalidInput: A bad name or limit.
    """
    spec = LIMIT_KINDS[kind]
    name = _check_name(spec, name)
    limit = check_limit(limit)
    column = getattr(spec.table, spec.key)
    for _attempt in range(3):
        row = (
            await session.execute(_locked(session, select(spec.table).where(column == name)))
        ).scalar_one_or_none()
        if row is not None:
            if row.concurrency_limit != limit:
                row.concurrency_limit = limit
                row.updated = orm.utcnow()
                await session.flush()
                queue_event(session, "concurrency_limit.updated")
            return row, False
        row = spec.table(**{spec.key: name, "concurrency_limit": limit})
        if await insert_unique(session, row):
            queue_event(session, "concurrency_limit.updated")
            return row, True
        # Another transaction created it meanwhile (PostgreSQL): update that one.
    raise InvalidInput(f"Could not set the {spec.what} of {name!r}; try again.")


async def read_limits(session: AsyncSession, kind: LimitKind, name: str | None = None) -> list[Any]:
    """Every limit of ``kind`` (or the one of ``name``), ordered by label or tag."""
    spec = LIMIT_KINDS[kind]
    column = getattr(spec.table, spec.key)
    stmt = select(spec.table).order_by(column)
    if name is not None:
        stmt = stmt.where(column == name)
    return list((await session.execute(stmt)).scalars().all())


async def read_limit(session: AsyncSession, kind: LimitKind, limit_id: str) -> Any:
    """One limit by id.

    Raises:
        NotFound: No limit of that kind has this id.
    """
    spec = LIMIT_KINDS[kind]
    row = await session.get(spec.table, limit_id)
    if row is None:
        raise NotFound(f"No {spec.what} with id {limit_id!r}.")
    return row


async def delete_limit(session: AsyncSession, kind: LimitKind, limit_id: str) -> None:
    """Delete a limit by id (its label or tag becomes unlimited).

    Raises:
        NotFound: No limit of that kind has this id.
    """
    row = await read_limit(session, kind, limit_id)
    await session.delete(row)
    await session.flush()
    queue_event(session, "concurrency_limit.updated")


async def flow_label_usage(session: AsyncSession, labels: Iterable[str]) -> dict[str, int]:
    """How many flow runs hold a slot of each label (labels without runs count 0)."""
    wanted = sorted(set(labels))
    usage = dict.fromkeys(wanted, 0)
    if not wanted:
        return usage
    fr, lab = orm.FlowRun, orm.FlowRunLabel
    rows = await session.execute(
        select(lab.label, func.count())
        .join(fr, fr.id == lab.flow_run_id)
        .where(lab.label.in_(wanted), fr.state_type.in_(FLOW_RUN_SLOT_STATES))
        .group_by(lab.label)
    )
    usage.update({str(label): int(count) for label, count in rows.all()})
    return usage


async def task_tag_usage(
    session: AsyncSession, tags: Iterable[str], *, exclude: Sequence[str] = ()
) -> dict[str, int]:
    """How many task runs hold a slot of each tag (``exclude``: task run ids not counted)."""
    wanted = sorted(set(tags))
    usage = dict.fromkeys(wanted, 0)
    if not wanted:
        return usage
    tr, tag, fr = orm.TaskRun, orm.TaskRunTag, orm.FlowRun
    stmt = (
        select(tag.tag, func.count())
        .join(tr, tr.id == tag.task_run_id)
        .join(fr, fr.id == tr.flow_run_id)
        .where(
            tag.tag.in_(wanted),
            tr.state_type.in_(TASK_RUN_SLOT_STATES),
            fr.state_type.in_(_LIVE_FLOW_RUN_STATES),
        )
        .group_by(tag.tag)
    )
    if exclude:
        stmt = stmt.where(tr.id.not_in(list(exclude)))
    rows = await session.execute(stmt)
    usage.update({str(name): int(count) for name, count in rows.all()})
    return usage
