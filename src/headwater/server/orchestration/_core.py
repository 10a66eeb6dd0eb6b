"""Setting states: rules, optimistic versions, side effects, cancellation.

Contract:

- :func:`set_flow_run_state` / :func:`set_task_run_state` lock the run row (PostgreSQL),
  check ``expected_version`` (stale -> :class:`Conflict`, HTTP 409), apply the rules of
  :mod:`.rules` (a rejection is returned, not raised), write the state with the server's
  timestamp and queue a ``flow_run.state`` / ``task_run.state`` event.
- A flow run that becomes Cancelled takes its unfinished task runs with it.
- A task-run state without ``cached_inputs`` inherits those of the previous state.
- A task run proposed Running while a tag of its task is at its concurrency limit is
  stored Queued instead (status ``"queued"``, once: asking again while still full changes
  nothing); see :mod:`headwater.server.models.concurrency_slots`.
- :func:`cancel_flow_run`: finished runs are left as they are, running ones become
  Cancelling, others Cancelled; unfinished children follow recursively unless
  ``cascade=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.models.concurrency_slots import admit_task_run
from headwater.server.models.errors import Conflict, InvalidInput
from headwater.server.models.flow_runs import require_flow_run
from headwater.server.models.states import apply_state, validate_state, write_state
from headwater.server.models.task_runs import require_task_run
from headwater.server.orchestration.rules import RULES, Rule, TransitionContext, check
from headwater.server.schemas.states import FINISHED, RUNNING

__all__ = [
    "CancelOutcome",
    "SetStateResult",
    "apply_task_run_state",
    "cancel_flow_run",
    "set_flow_run_state",
    "set_task_run_state",
]


@dataclass(frozen=True)
class SetStateResult:
    """Outcome of a state change.

    Attributes:
        status: ``"accepted"``, ``"rejected"``, or ``"queued"`` (a task run's Running
            became Queued by a concurrency limit).
        state: The run's state after the call (the new one, or the unchanged current one).
        version: The run's version after the call.
        detail: Why the change was rejected, else ``None``.
    """

    status: Literal["accepted", "rejected", "queued"]
    state: dict[str, Any] | None
    version: int
    detail: str | None = None


def _check_input(state: Any) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise InvalidInput("A state must be a JSON object with a 'type'.")
    validate_state(state)
    return state


def _check_version(kind: str, run_id: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(
            f"The {kind} {run_id} is at version {current}, not {expected}: "
            "its state changed meanwhile; re-read it and retry."
        )


async def set_flow_run_state(
    session: AsyncSession,
    flow_run_id: str,
    state: dict[str, Any],
    *,
    expected_version: int | None = None,
    agent_id: str | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> SetStateResult:
    """Propose a new state for a flow run.

    Args:
        session: Database session (the caller commits).
        flow_run_id: The flow run.
        state: The proposed state in JSON form (needs ``type``).
        expected_version: Refuse unless the run is at this version.
        agent_id: For Submitted: the agent that takes the run.
        rules: The rules to apply (the default set unless a service knows better).

    Raises:
        NotFound: No such flow run.
        Conflict: ``expected_version`` is stale.
        InvalidInput: The state is malformed or of an unknown type.
    """
    state = _check_input(state)
    run = await require_flow_run(session, flow_run_id, for_update=True)
    _check_version("flow run", run.id, run.version, expected_version)
    reason = check(TransitionContext("flow_run", run.state_type, state), rules)
    if reason is not None:
        return SetStateResult("rejected", run.state, run.version, reason)
    now = orm.utcnow()
    stored = await write_state(session, run, state, now=now)
    if stored["type"] == "Submitted" and agent_id is not None:
        run.agent_id = agent_id
    if stored["type"] == "Cancelled":
        await _cancel_task_runs(session, run.id, now)
    await session.flush()
    data: dict[str, Any] = {"version": run.version, "state_type": run.state_type}
    if stored["type"] in FINISHED and run.labels:
        # Concurrency limits: a finished run with labels may free a claim slot.
        data["labels"] = list(run.labels)
    queue_event(session, "flow_run.state", flow_run_id=run.id, data=data)
    return SetStateResult("accepted", stored, run.version)


async def _cancel_task_runs(session: AsyncSession, flow_run_id: str, now: Any) -> None:
    task_runs = (
        await session.execute(
            select(orm.TaskRun).where(
                orm.TaskRun.flow_run_id == flow_run_id,
                (orm.TaskRun.state_type.is_(None)) | (orm.TaskRun.state_type.not_in(FINISHED)),
            )
        )
    ).scalars()
    for task_run in task_runs:
        await write_state(
            session, task_run, {"type": "Cancelled", "message": "Flow run is cancelled."}, now=now
        )
        queue_event(
            session,
            "task_run.state",
            flow_run_id=flow_run_id,
            task_run_id=task_run.id,
            data={"version": task_run.version, "state_type": "Cancelled"},
        )


async def set_task_run_state(
    session: AsyncSession,
    task_run_id: str,
    state: dict[str, Any],
    *,
    expected_version: int | None = None,
    agent_id: str | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> SetStateResult:
    """Propose a new state for a task run (see :func:`set_flow_run_state`).

    ``agent_id`` is accepted for symmetry and ignored.
    """
    del agent_id
    state = _check_input(state)
    task_run = await require_task_run(session, task_run_id, for_update=True)
    flow_run_state: str | None = None
    if state["type"] == "Running":
        flow_run = await require_flow_run(session, task_run.flow_run_id)
        flow_run_state = flow_run.state_type
    result = await apply_task_run_state(
        session,
        task_run,
        state,
        expected_version=expected_version,
        flow_run_state=flow_run_state,
        rules=rules,
    )
    await session.flush()
    return result


async def apply_task_run_state(
    session: AsyncSession,
    task_run: orm.TaskRun,
    state: dict[str, Any],
    *,
    expected_version: int | None,
    flow_run_state: str | None,
    rules: tuple[Rule, ...] = RULES,
    history: list[Any] | None = None,
) -> SetStateResult:
    """Check and write one task-run state on a loaded (and locked) row; no flush.

    The one place the rules meet a task-run state: :func:`set_task_run_state` and the
    batched writes of :mod:`._batch` both come here, so a batch behaves item by item
    exactly as single requests would.

    Args:
        session: Database session (the caller flushes and commits).
        task_run: The task run row.
        state: The proposed state (already validated).
        expected_version: Refuse unless the run is at this version.
        flow_run_state: The state type of the task run's flow run (needed for Running).
        rules: The rules to apply.
        history: Collect the history row here (the caller inserts it) instead of adding
            it to the session.

    Raises:
        Conflict: ``expected_version`` is stale.
    """
    _check_version("task run", task_run.id, task_run.version, expected_version)
    ctx = TransitionContext("task_run", task_run.state_type, state, flow_run_state)
    reason = check(ctx, rules)
    if reason is not None:
        return SetStateResult("rejected", task_run.state, task_run.version, reason)
    status: Literal["accepted", "queued"] = "accepted"
    if state["type"] == "Running":
        # Task concurrency limits by tag: over a limit the task run waits in Queued.
        queued = await admit_task_run(session, task_run)
        if queued is not None:
            if task_run.state_type == "Queued":
                return SetStateResult("queued", task_run.state, task_run.version, queued["message"])
            state, status = queued, "queued"
    previous = task_run.state or {}
    if previous.get("cached_inputs") and not state.get("cached_inputs"):
        # A retry needs the inputs of the failed attempt (Prefect 1 carries them over).
        state = {**state, "cached_inputs": previous["cached_inputs"]}
    stored, entry = apply_state(task_run, state)
    if history is None:
        session.add(entry)
    else:
        history.append(entry)
    queue_event(
        session,
        "task_run.state",
        flow_run_id=task_run.flow_run_id,
        task_run_id=task_run.id,
        data={"version": task_run.version, "state_type": task_run.state_type},
    )
    detail = stored.get("message") if status == "queued" else None
    return SetStateResult(status, stored, task_run.version, detail)


@dataclass(frozen=True)
class CancelOutcome:
    """Result of :func:`cancel_flow_run`.

    Attributes:
        flow_run: The run after the call.
        state: Its resulting state type.
        cancelled: Ids of every run whose state changed, children included.
    """

    flow_run: orm.FlowRun
    state: str | None
    cancelled: list[str]


async def _cancel_one(session: AsyncSession, run: orm.FlowRun) -> bool:
    if run.state_type in FINISHED:
        return False
    if run.state_type in RUNNING:
        if run.state_type == "Cancelling":
            return False
        proposed = {"type": "Cancelling", "message": "Flow run is cancelling."}
    else:
        proposed = {"type": "Cancelled", "message": "Flow run is cancelled."}
    result = await set_flow_run_state(session, run.id, proposed)
    return result.status == "accepted"


async def cancel_flow_run(
    session: AsyncSession, flow_run_id: str, *, cascade: bool = True
) -> CancelOutcome:
    """Cancel a flow run and, unless ``cascade`` is False, its unfinished descendants.

    Raises:
        NotFound: No such flow run.
    """
    run = await require_flow_run(session, flow_run_id, for_update=True)
    changed: list[str] = []
    if await _cancel_one(session, run):
        changed.append(run.id)
    if cascade:
        seen = {run.id}
        frontier = [run.id]
        while frontier:
            children = list(
                (
                    await session.execute(
                        select(orm.FlowRun)
                        .where(orm.FlowRun.parent_flow_run_id.in_(frontier))
                        .order_by(orm.FlowRun.created)
                    )
                ).scalars()
            )
            frontier = []
            for child in children:
                if child.id in seen:
                    continue
                seen.add(child.id)
                frontier.append(child.id)
                if await _cancel_one(session, child):
                    changed.append(child.id)
    return CancelOutcome(flow_run=run, state=run.state_type, cancelled=changed)
