"""Client methods for task runs (``/task-runs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.client._base import route
from headwater.client._resource import Resource, state_from_json, state_to_json

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = ["TaskRunInfoResult", "TaskRunsMixin"]

# Get-or-create: repeating it returns the same task run, so it is safe to retry.
_GET_OR_CREATE = route("POST", "/task-runs", idempotent=True)
_LIST = route("GET", "/task-runs")
_READ = route("GET", "/task-runs/{task_run_id}")
_SET_STATE = route("POST", "/task-runs/{task_run_id}/state")
_STATES = route("GET", "/task-runs/{task_run_id}/states")


@dataclass(frozen=True)
class TaskRunInfoResult:
    """What Prefect 1's ``get_task_run_info`` returns.

    Attributes:
        id: the task run id.
        task_slug: the task's slug in its flow.
        map_index: -1 for an unmapped run.
        version: the state version.
        state: the current state.
        task_name: the task's name.
    """

    id: str
    task_slug: str
    map_index: int
    version: int
    state: State
    task_name: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRunInfoResult:
        """Build from the server's TaskRun object."""
        return cls(
            id=str(data["id"]),
            task_slug=str(data.get("task_slug")),
            map_index=int(data.get("map_index", -1)),
            version=int(data.get("version") or 0),
            state=state_from_json(data.get("state")),
            task_name=data.get("task_name"),
        )


class TaskRunsMixin(Resource):
    """Create, read and update task runs."""

    def get_or_create_task_run(
        self,
        flow_run_id: str,
        task_slug: str,
        map_index: int = -1,
        task_name: str | None = None,
    ) -> dict[str, Any]:
        """The task run of ``task_slug`` (and ``map_index``) in a flow run, created if new."""
        body = {
            "flow_run_id": flow_run_id,
            "task_slug": task_slug,
            "map_index": map_index,
            "task_name": task_name,
        }
        result: dict[str, Any] = self._transport.json(_GET_OR_CREATE, json_body=body)
        return result

    def get_task_run(self, task_run_id: str) -> dict[str, Any]:
        """One task run.

        Raises:
            ObjectNotFound: there is no such task run.
        """
        result: dict[str, Any] = self._transport.json(_READ, {"task_run_id": task_run_id})
        return result

    def get_task_run_info(
        self, flow_run_id: str, task_slug: str, map_index: int = -1
    ) -> TaskRunInfoResult:
        """A flow run's task run by slug and map index (created when it does not exist yet,
        as Prefect 1 does)."""
        return TaskRunInfoResult.from_json(
            self.get_or_create_task_run(flow_run_id, task_slug, map_index=map_index)
        )

    def query_task_runs(
        self,
        flow_run_id: str | None = None,
        task_slug: str | None = None,
        map_index: int | None = None,
        state: str | list[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[dict[str, Any]]:
        """Task runs matching the filters, ordered by (task_slug, map_index).

        Args:
            flow_run_id: only this flow run's.
            task_slug: only this task's.
            map_index: only this map index.
            state: state type name(s) to keep.
            limit: at most this many.
            offset: skip this many.
        """
        params = {
            "flow_run_id": flow_run_id,
            "task_slug": task_slug,
            "map_index": map_index,
            "state": state,
            "limit": limit,
            "offset": offset,
        }
        result: list[dict[str, Any]] = self._transport.json(_LIST, params=params)
        return result

    def set_task_run_state(self, task_run_id: str, state: Any, version: int | None = None) -> State:
        """Propose a new state for a task run.

        Args:
            task_run_id: the task run.
            state: a State (or its JSON form).
            version: the state version the caller last saw; a stale one is a conflict.

        Returns:
            The state the server holds afterwards (the proposed one unless rejected).

        Raises:
            ConflictError: ``version`` is stale.
        """
        body = {"state": state_to_json(state), "expected_version": version}
        answer = self._transport.json(_SET_STATE, {"task_run_id": task_run_id}, json_body=body)
        return state_from_json(answer.get("state"))

    def get_task_run_states(self, task_run_id: str) -> list[dict[str, Any]]:
        """A task run's state history, oldest first (``[{version, timestamp, state}]``)."""
        result: list[dict[str, Any]] = self._transport.json(_STATES, {"task_run_id": task_run_id})
        return result
