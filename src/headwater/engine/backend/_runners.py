"""Runners that report every state change to the server.

Contract (contracts.md section 5):

- :class:`BackendFlowRunner` writes each flow-run state through
  ``Client.set_flow_run_state``. When the server refuses a state (for example ``Running``
  for a run that was cancelled before it started), it raises :class:`RunRefused`, which
  ends the run without further writes.
- :class:`BackendTaskRunner` gets-or-creates the task run by (flow run, slug, map index)
  in ``initialize_run`` and puts ``task_run_id``, ``task_slug``, ``map_index`` and
  ``task_run_count`` into the context; every task state is written with
  ``Client.set_task_run_state``. A retried task asks for the same (slug, map index), so it
  keeps its task-run id.
- Both keep a registry of the task runs in flight, so that a terminated process can mark
  them as ended (see ``_main``).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from headwater.engine.backend._retry import with_retries
from headwater.engine.flow_runner import FlowRunner
from headwater.engine.task_runner import TaskRunner

if TYPE_CHECKING:
    from headwater.client import Client
    from headwater.core.flow import Flow
    from headwater.core.task import Task
    from headwater.engine.state import State

__all__ = ["BackendFlowRunner", "BackendTaskRunner", "RunRefused", "TaskRunRegistry"]

logger = logging.getLogger("headwater.engine.backend")


class RunRefused(Exception):
    """The server refused a state change, so this process must stop running the flow."""


class TaskRunRegistry:
    """Task runs this process has started and their latest state type (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}

    def update(self, task_run_id: str, state_type: str) -> None:
        """Record the latest state type of a task run."""
        with self._lock:
            self._states[task_run_id] = state_type

    def unfinished(self, finished_types: frozenset[str]) -> list[str]:
        """Ids of task runs whose latest state is not finished."""
        with self._lock:
            return [i for i, t in self._states.items() if t not in finished_types]


def _state_type(state: Any) -> str:
    return type(state).__name__


class BackendTaskRunner(TaskRunner):
    """A task runner that records its task run and every state on the server.

    Args:
        task: The task to run.
        state_handlers: User state handlers.
        flow_result: The flow's default Result (the server result store by default).
        client: Client used for the writes.
        flow_run_id: The flow run the task run belongs to.
        registry: Shared registry of task runs in flight.
    """

    def __init__(
        self,
        task: Task,
        state_handlers: Any = None,
        flow_result: Any = None,
        *,
        client: Client,
        flow_run_id: str,
        registry: TaskRunRegistry,
    ) -> None:
        super().__init__(task, state_handlers=state_handlers, flow_result=flow_result)
        self.client = client
        self.flow_run_id = flow_run_id
        self.registry = registry
        self.task_run_id: str | None = None

    def initialize_run(self, state: Any, context: dict[str, Any]) -> Any:
        """Get-or-create the task run and put its identity into the context."""
        raw_index = context.get("map_index")
        map_index = -1 if raw_index is None else int(raw_index)
        task_run = with_retries(
            lambda: self.client.get_or_create_task_run(
                self.flow_run_id, self.task.slug, map_index=map_index, task_name=self.task.name
            ),
            "create a task run",
        )
        self.task_run_id = str(task_run["id"])
        context.update(
            task_run_id=self.task_run_id,
            task_slug=self.task.slug,
            map_index=None if map_index == -1 and raw_index is None else map_index,
            task_run_version=task_run.get("version"),
        )
        context.setdefault("task_run_count", int(task_run.get("run_count") or 0) + 1)
        return super().initialize_run(state, context)

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """Run user handlers, then write the resulting state to the server."""
        new_state = super().call_runner_target_handlers(old_state, new_state)
        if self.task_run_id is None or new_state is None:
            return new_state
        self.registry.update(self.task_run_id, _state_type(new_state))
        try:
            task_run_id = self.task_run_id
            with_retries(
                lambda: self.client.set_task_run_state(task_run_id, new_state),
                "record a task state",
            )
        except Exception as exc:
            # The task's outcome stands even if the server could not record this step;
            # the flow-run state written at the end reflects it.
            logger.warning(
                "Could not record state %s of task run %s: %s",
                _state_type(new_state),
                self.task_run_id,
                exc,
            )
        return new_state


class BackendFlowRunner(FlowRunner):
    """A flow runner that records every flow-run state on the server.

    Args:
        flow: The flow to run.
        client: Client used for the writes.
        flow_run_id: The flow run this process executes.
        state_handlers: User state handlers.
    """

    def __init__(
        self,
        flow: Flow,
        client: Client,
        flow_run_id: str,
        state_handlers: Any = None,
    ) -> None:
        self.client = client
        self.flow_run_id = flow_run_id
        self.registry = TaskRunRegistry()
        self.last_reported: State | None = None
        registry = self.registry

        class _TaskRunner(BackendTaskRunner):
            def __init__(
                self, task: Task, state_handlers: Any = None, flow_result: Any = None
            ) -> None:
                super().__init__(
                    task,
                    state_handlers=state_handlers,
                    flow_result=flow_result,
                    client=client,
                    flow_run_id=flow_run_id,
                    registry=registry,
                )

        super().__init__(flow, task_runner_cls=_TaskRunner, state_handlers=state_handlers)

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """Run user handlers, then write the state; raise RunRefused when refused."""
        new_state = super().call_runner_target_handlers(old_state, new_state)
        if new_state is None:
            return new_state
        stored = with_retries(
            lambda: self.client.set_flow_run_state(self.flow_run_id, new_state),
            "record a flow-run state",
        )
        if stored is not None and _state_type(stored) != _state_type(new_state):
            raise RunRefused(
                f"The server refused state {_state_type(new_state)} for flow run "
                f"{self.flow_run_id}; it is {_state_type(stored)}"
            )
        self.last_reported = new_state
        return new_state
