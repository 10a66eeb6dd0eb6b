"""Resuming a flow run: the one mechanism behind Lazarus and ``restart``.

Contract:

- :func:`resume_flow_run` puts a flow run back in the queue so that the next flow-run
  process continues where the last one stopped. Task runs whose state is *reusable*
  (:func:`reusable`: ``Success``, ``Cached`` or ``Skipped``, with a stored result
  reference unless Skipped) keep their state and result; every other task run (failed,
  cancelled, still running, never started, and ``Mapped`` parents, whose children decide
  again) is reset to ``Pending``. The flow run becomes ``Scheduled`` (due now), its end time
  is cleared, and a log line on the run says why. The flow-run process then adopts the
  reusable states instead of running those tasks again (``BackendTaskRunner``), so their
  results are reused and the children they created are not created again.
- Every change passes the orchestration rules; the flow run's change carries
  ``expected_version`` when given, so a run that moved on meanwhile is left alone
  (:class:`~headwater.server.models.errors.Conflict`).
- :func:`restart_flow_run` is the user's restart: only a run that ended failed
  (``Failed`` family) or ``Cancelled`` may be restarted; it also resets the run's
  resurrection count. The reaper's Lazarus calls :func:`resume_flow_run` with
  ``resurrect=True``, which counts one resurrection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm, queue_event
from headwater.server.models.errors import Conflict
from headwater.server.models.flow_runs import require_flow_run
from headwater.server.orchestration._core import set_flow_run_state, set_task_run_state
from headwater.server.schemas.states import FAILED

__all__ = [
    "RESTARTABLE",
    "ResumeOutcome",
    "restart_flow_run",
    "resume_flow_run",
    "reusable",
]

#: Final states a user may restart a flow run from.
RESTARTABLE: frozenset[str] = FAILED | {"Cancelled"}
_REUSABLE_TYPES = frozenset({"Success", "Cached", "Skipped"})
_RESET_MESSAGE = "Reset for the resumption of the flow run."


def reusable(state: Any) -> bool:
    """Whether a task run in ``state`` (JSON form) is kept, not run again, on resumption."""
    if not isinstance(state, dict) or state.get("type") not in _REUSABLE_TYPES:
        return False
    return state["type"] == "Skipped" or bool(state.get("result"))


@dataclass
class ResumeOutcome:
    """What :func:`resume_flow_run` did.

    Attributes:
        flow_run: The run, now Scheduled.
        kept: Ids of task runs that keep their state and result.
        reset: Ids of task runs reset to Pending.
    """

    flow_run: orm.FlowRun
    kept: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)


async def resume_flow_run(
    session: AsyncSession,
    flow_run_id: str,
    *,
    message: str,
    expected_version: int | None = None,
    resurrect: bool = False,
    log_name: str = "headwater.server",
    log_message: str | None = None,
) -> ResumeOutcome:
    """Reset what must run again and schedule the flow run now; the caller commits.

    Args:
        session: Open session.
        flow_run_id: The run to resume.
        message: Message of the new Scheduled state.
        expected_version: Refuse (Conflict) unless the run is at this version.
        resurrect: Count one resurrection (the reaper's Lazarus).
        log_name: Logger name of the log line written on the run.
        log_message: Text of that log line (default: ``message``).

    Raises:
        NotFound: No such run.
        Conflict: The run changed meanwhile, or the rules refused to reschedule it.
    """
    now = dt.datetime.now(dt.UTC)
    run = await require_flow_run(session, flow_run_id, for_update=True)
    if expected_version is not None and run.version != expected_version:
        raise Conflict(f"Flow run {flow_run_id} changed meanwhile; it was not resumed.")
    version = run.version
    outcome = ResumeOutcome(flow_run=run)
    task_runs = (
        await session.execute(
            select(orm.TaskRun.id, orm.TaskRun.state, orm.TaskRun.state_type, orm.TaskRun.version)
            .where(orm.TaskRun.flow_run_id == flow_run_id)
            .order_by(orm.TaskRun.task_slug, orm.TaskRun.map_index)
        )
    ).all()
    for task_run_id, state, state_type, task_version in task_runs:
        if reusable(state):
            outcome.kept.append(str(task_run_id))
            continue
        if state_type in (None, "Pending"):
            continue  # never started: nothing to reset
        result = await set_task_run_state(
            session,
            str(task_run_id),
            {"type": "Pending", "message": _RESET_MESSAGE},
            expected_version=task_version,
        )
        if result.status != "accepted":
            raise Conflict(f"Task run {task_run_id} could not be reset: {result.detail}")
        outcome.reset.append(str(task_run_id))
    scheduled = {"type": "Scheduled", "message": message, "start_time": now.isoformat()}
    result = await set_flow_run_state(session, flow_run_id, scheduled, expected_version=version)
    if result.status != "accepted":
        raise Conflict(f"Flow run {flow_run_id} cannot be resumed: {result.detail}")
    run.end_time = None
    if resurrect:
        run.times_resurrected = (run.times_resurrected or 0) + 1
    log = orm.Log(
        flow_run_id=flow_run_id,
        timestamp=now,
        level="INFO",
        name=log_name,
        message=(
            f"{log_message or message} {len(outcome.kept)} finished task run(s) keep their "
            f"results; {len(outcome.reset)} run again."
        ),
        info={"kept_task_runs": len(outcome.kept), "reset_task_runs": len(outcome.reset)},
    )
    session.add(log)
    await session.flush()
    queue_event(session, "logs", flow_run_id=flow_run_id, data={"count": 1, "max_id": log.id})
    return outcome


async def restart_flow_run(session: AsyncSession, flow_run_id: str) -> ResumeOutcome:
    """Restart a failed or cancelled flow run from its failed tasks on; the caller commits.

    Raises:
        NotFound: No such run.
        Conflict: The run is not in a restartable state.
    """
    run = await require_flow_run(session, flow_run_id, for_update=True)
    if run.state_type not in RESTARTABLE:
        raise Conflict(
            f"Flow run {flow_run_id} is {run.state_type}; only a failed or cancelled flow run "
            "can be restarted."
        )
    previous = run.state_type
    outcome = await resume_flow_run(
        session,
        flow_run_id,
        message="Restarted: the failed and unfinished task runs run again.",
        expected_version=run.version,
        log_name="headwater.server.restart",
        log_message=f"Flow run restarted from {previous}.",
    )
    outcome.flow_run.times_resurrected = 0
    return outcome
