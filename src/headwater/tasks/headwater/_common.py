"""Helpers shared by the flow-of-flows tasks: context lookups, keys, logging, mirroring.

Contract:
    * The parent's lineage (flow run id, task run id) is only sent when the task runs
      inside a backend flow run (``running_with_backend`` in context); a local
      ``flow.run()`` has ids the server does not know.
    * The default idempotency key is the context's ``task_run_id``, plus ``-{map_index}``
      when the task is a mapped child, so retries of one task run reuse one child run and
      N mapped children create N child runs.
    * ``raise_mirrored(...)`` ends the calling task in the state of a finished child run;
      Cancelled, TimedOut and other states without a signal fail the task with a message
      naming the child run and its state.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from headwater.backend._artifacts import create_link_artifact
from headwater.backend._common import state_repr
from headwater.engine import signals
from headwater.exceptions import ClientError
from headwater.utilities.context import context

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = [
    "context_value",
    "default_idempotency_key",
    "lineage",
    "link_to_child_run",
    "raise_mirrored",
    "resolve_start_time",
    "task_logger",
]


def context_value(key: str, default: Any = None) -> Any:
    """Read ``key`` from the active :data:`headwater.context`."""
    return context.get(key, default)


def task_logger() -> logging.Logger:
    """The running task's logger (a module logger outside a run)."""
    logger = context_value("logger")
    if isinstance(logger, logging.Logger | logging.LoggerAdapter):
        return logger  # type: ignore[return-value]
    return logging.getLogger("headwater.tasks.headwater")


def default_idempotency_key() -> str | None:
    """The key that makes a retried or re-run task get the same child run back."""
    task_run_id = context_value("task_run_id")
    if not task_run_id:
        return None
    map_index = context_value("map_index")
    if map_index is not None and isinstance(map_index, int) and map_index >= 0:
        return f"{task_run_id}-{map_index}"
    return str(task_run_id)


def lineage() -> tuple[str | None, str | None]:
    """Return ``(parent_flow_run_id, parent_task_run_id)`` for a run created now."""
    if not context_value("running_with_backend"):
        return None, None
    flow_run_id = context_value("flow_run_id")
    task_run_id = context_value("task_run_id")
    return (str(flow_run_id) if flow_run_id else None, str(task_run_id) if task_run_id else None)


def child_run_link(flow_run_id: str) -> str:
    """The path of a flow run's page, the link a link artifact to a child run holds."""
    return f"/flow-run/{flow_run_id}"


def link_to_child_run(flow_run_id: str) -> str | None:
    """Attach a link artifact to the child run ``flow_run_id`` to the current task run.

    Only in backend runs (elsewhere nothing is sent and ``None`` is returned). The link is
    a convenience (the child records its parent anyway), so a failure to store it is
    logged as a warning and does not fail the task that created the child.
    """
    try:
        return create_link_artifact(child_run_link(flow_run_id))
    except ClientError as exc:
        task_logger().warning(
            "Could not attach a link artifact for flow run %s: %s", flow_run_id, exc
        )
        return None


def resolve_start_time(value: datetime | timedelta | None) -> datetime | None:
    """Turn a delay into an absolute UTC time; pass datetimes and ``None`` through.

    Raises:
        TypeError: for anything else.
    """
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, timedelta):
        return datetime.now(UTC) + value
    raise TypeError(
        "`scheduled_start_time` must be a datetime or a timedelta, got "
        f"{type(value).__name__}: {value!r}"
    )


def raise_mirrored(state: State, flow_run_id: str, run_name: str | None, result: Any) -> NoReturn:
    """End the calling task in the state of the finished child run.

    Args:
        state: the child run's final state.
        flow_run_id: the child run's id.
        run_name: the child run's name (for the message).
        result: the value the task's state carries.

    Raises:
        headwater.engine.signals.ENGINESIGNAL: the signal mirroring ``state``; ``FAIL``
            for states without a signal of their own (Cancelled, TimedOut, ...).
    """
    message = f"{flow_run_id} finished in state {state_repr(state)}"
    name = type(state).__name__
    mirror: dict[str, Any] = {
        "Success": signals.SUCCESS,
        "Cached": signals.SUCCESS,
        "Mapped": signals.SUCCESS,
        "Skipped": signals.SKIP,
        "Failed": signals.FAIL,
        "TriggerFailed": signals.TRIGGERFAIL,
        "ValidationFailed": signals.VALIDATIONFAIL,
    }
    signal = mirror.get(name)
    if signal is None:
        label = f"{run_name!r} ({flow_run_id})" if run_name else flow_run_id
        raise signals.FAIL(
            f"Child flow run {label} ended {state_repr(state)}, so the task waiting on it failed.",
            result=result,
        )
    raise signal(message, result=result)
