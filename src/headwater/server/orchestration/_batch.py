"""Batched task-run state changes: many items, one transaction, per-item outcomes.

Contract:

- :func:`set_task_run_states` applies items in the order given, each through
  :func:`~headwater.server.orchestration._core.apply_task_run_state`, so every item
  meets the same rules, version checks, cached-input carry-over and events as a single
  ``POST /task-runs/{id}/state`` would.
- The task runs concerned are loaded (and, on PostgreSQL, row-locked in id order, so two
  batches cannot deadlock) with one query, their flow runs' state types with another;
  the whole batch is flushed once and its history rows inserted with one statement.
- An item that cannot be applied (unknown task run, malformed state, stale version, a
  result over the size limit) gets ``status="error"`` with the HTTP status the single
  route would have answered; the other items still apply. A rejection by the rules is
  ``status="rejected"`` with the reason, as for a single request.
- An item's result bytes are stored (all of a batch's in one worker thread) before its
  state, as the separate upload and state requests did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.models.errors import DomainError, NotFound, TooLarge
from headwater.server.models.states import insert_history
from headwater.server.orchestration._core import _check_input, apply_task_run_state
from headwater.server.orchestration.rules import RULES, Rule

if TYPE_CHECKING:
    from headwater.server.result_store import ResultStore

__all__ = ["StateItem", "StateItemOutcome", "set_task_run_states"]

_CHUNK = 900  # ids per IN (...) query, well below every database's parameter limit


@dataclass(frozen=True)
class StateItem:
    """One proposed change: a state, result bytes, or both (the result first)."""

    task_run_id: str
    state: dict[str, Any] | None = None
    expected_version: int | None = None
    result: bytes | None = None


@dataclass(frozen=True)
class StateItemOutcome:
    """What became of one item (see the module contract)."""

    task_run_id: str
    status: Literal["accepted", "rejected", "queued", "error"]
    state: dict[str, Any] | None = None
    version: int | None = None
    detail: str | None = None
    status_code: int | None = None


async def _load_task_runs(session: AsyncSession, ids: list[str]) -> dict[str, orm.TaskRun]:
    locking = session.get_bind().dialect.name != "sqlite"
    rows: dict[str, orm.TaskRun] = {}
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(orm.TaskRun)
            .where(orm.TaskRun.id.in_(ids[start : start + _CHUNK]))
            .order_by(orm.TaskRun.id)
            .execution_options(populate_existing=True)
        )
        if locking:
            query = query.with_for_update()
        rows.update((row.id, row) for row in (await session.execute(query)).scalars())
    return rows


async def _flow_run_states(session: AsyncSession, ids: set[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        query = select(orm.FlowRun.id, orm.FlowRun.state_type).where(
            orm.FlowRun.id.in_(ordered[start : start + _CHUNK])
        )
        found.update((row.id, row.state_type) for row in await session.execute(query))
    return found


async def set_task_run_states(
    session: AsyncSession,
    items: Sequence[StateItem],
    *,
    store: ResultStore | None = None,
    max_result_bytes: int | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> list[StateItemOutcome]:
    """Apply many task-run state changes (and results) in order; one outcome per item.

    Args:
        session: Database session (the caller commits).
        items: The changes, applied in this order.
        store: Where result bytes go (needed when an item carries a result).
        max_result_bytes: Refuse results larger than this (the item is an error, 413).
        rules: The rules to apply.

    Returns:
        The outcomes, in the order of ``items``.
    """
    rows = await _load_task_runs(session, sorted({item.task_run_id for item in items}))
    flow_states = await _flow_run_states(session, {row.flow_run_id for row in rows.values()})
    refused: dict[int, DomainError] = {}
    uploads: list[tuple[int, str, bytes]] = []
    for index, item in enumerate(items):
        if item.result is None or item.task_run_id not in rows:
            continue
        if max_result_bytes is not None and len(item.result) > max_result_bytes:
            refused[index] = TooLarge(
                f"The result is larger than this server accepts ({max_result_bytes} bytes)."
            )
        else:
            uploads.append((index, item.task_run_id, item.result))
    locations: dict[int, str] = {}
    if uploads:
        if store is None:
            raise ValueError("set_task_run_states needs a result store for items with results")
        written = await store.write_many([(run_id, data) for _, run_id, data in uploads])
        locations = {
            index: location for (index, _, _), location in zip(uploads, written, strict=True)
        }
    outcomes: list[StateItemOutcome] = []
    history: list[Any] = []
    for index, item in enumerate(items):
        location = locations.get(index)
        outcomes.append(
            await _apply_one(
                session, item, rows, flow_states, location, refused, index, rules, history
            )
        )
    await session.flush()
    await insert_history(session, history)
    return outcomes


async def _apply_one(
    session: AsyncSession,
    item: StateItem,
    rows: dict[str, orm.TaskRun],
    flow_states: dict[str, str | None],
    location: str | None,
    refused: dict[int, DomainError],
    index: int,
    rules: tuple[Rule, ...],
    history: list[Any],
) -> StateItemOutcome:
    task_run = rows.get(item.task_run_id)
    try:
        if task_run is None:
            raise NotFound(f"Task run {item.task_run_id} not found.")
        if index in refused:
            raise refused[index]
        if location is not None:
            task_run.result_location = location
            task_run.updated = orm.utcnow()
        if item.state is None:
            return StateItemOutcome(item.task_run_id, "accepted", task_run.state, task_run.version)
        state = _check_input(item.state)
        result = await apply_task_run_state(
            session,
            task_run,
            state,
            expected_version=item.expected_version,
            flow_run_state=flow_states.get(task_run.flow_run_id),
            rules=rules,
            history=history,
        )
    except DomainError as exc:
        return StateItemOutcome(
            item.task_run_id, "error", detail=exc.detail, status_code=exc.status_code
        )
    return StateItemOutcome(
        item.task_run_id, result.status, result.state, result.version, result.detail
    )
