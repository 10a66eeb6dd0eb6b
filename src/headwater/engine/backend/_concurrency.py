"""Task concurrency limits in the flow-run process: starting a tagged task run.

Contract:

- A task with tags enters ``Running`` through :func:`start_when_slot_free`, a synchronous
  round trip (never batched or deferred), because the server may answer ``Queued``: one of
  the task's tags is at its concurrency limit (``Client.update_task_tag_limit``).
- While Queued the task run waits in this thread, on the server's long-poll
  ``wait_for_task_run_slot`` (it answers as soon as a slot may be free, or after
  ``config.server.queue_interval`` seconds, Prefect 1's ``cloud.queue_interval``), and
  proposes Running again; the server decides atomically, so of several waiters only as
  many start as there are free slots.
- The result is the state the task run is in afterwards: the proposed Running state
  once accepted, or the server's state when it refused (the flow run is being
  cancelled, say), which ends the task run without calling the task.
- Tasks without tags keep the ordinary write path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from headwater.engine.backend._retry import with_retries
from headwater.engine.state import Pending, State
from headwater.utilities.configuration import config

if TYPE_CHECKING:
    from headwater.client import Client
    from headwater.core.task import Task

__all__ = ["needs_slot", "queue_interval", "start_when_slot_free"]

logger = logging.getLogger("headwater.engine.backend")

_DEFAULT_QUEUE_INTERVAL = 30.0


def queue_interval() -> float:
    """Longest wait between two attempts of a Queued task run, in seconds."""
    raw: Any = (config.get("server") or {}).get("queue_interval", _DEFAULT_QUEUE_INTERVAL)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return _DEFAULT_QUEUE_INTERVAL
    return min(max(value, 0.1), 300.0)


def needs_slot(task: Task, state: State) -> bool:
    """Whether entering ``state`` must go through :func:`start_when_slot_free`."""
    return bool(task.tags) and type(state).__name__ == "Running"


def start_when_slot_free(client: Client, task_run_id: str, state: State, task_name: str) -> State:
    """Propose ``state`` (Running); wait in Queued until the server accepts or refuses it."""
    data = state.serialize()
    answer = with_retries(
        lambda: client.propose_task_run_state(task_run_id, data), "start a task run"
    )
    if answer.get("status") == "queued":
        logger.info("Task %r: %s", task_name, answer.get("detail") or "Queued.")
        interval = queue_interval()
        while answer.get("status") == "queued":
            with_retries(
                lambda: client.wait_for_task_run_slot(task_run_id, timeout=interval),
                "wait for a concurrency slot",
            )
            answer = with_retries(
                lambda: client.propose_task_run_state(task_run_id, data), "start a task run"
            )
    if answer.get("status") == "accepted":
        return state
    logger.warning(
        "Task %r: the server refused to start task run %s: %s",
        task_name,
        task_run_id,
        answer.get("detail"),
    )
    stored = answer.get("state")
    return State.deserialize(stored) if stored else Pending()
