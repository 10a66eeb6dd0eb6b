"""Client methods for task runs (``/task-runs``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.client._base import route
from headwater.client._resource import Resource, state_from_json, state_to_json

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = ["TaskRunInfoResult", "TaskRunsMixin"]

# Get-or-create: repeating it returns the same task run, so it is safe to retry.
_GET_OR_CREATE = route("POST", "/task-runs", idempotent=True)
_GET_OR_CREATE_BULK = route("POST", "/task-runs/bulk", idempotent=True)
# Not retried blindly by the transport: the batch writer retries it itself, and a repeat
# of a batch whose answer was lost is harmless (finished states are final, and a
# repeated intermediate state only adds a history entry).
_SET_STATES = route("POST", "/task-runs/states")
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

    def get_or_create_task_runs(
        self, flow_run_id: str, task_runs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Many task runs of a flow run with one request, created Pending where missing.

        Args:
            flow_run_id: the flow run.
            task_runs: ``{"task_slug", "map_index" (default -1), "task_name"}`` per run.

        Returns:
            The task runs, in the order asked for.
        """
        if not task_runs:
            return []
        body = {"flow_run_id": flow_run_id, "task_runs": task_runs}
        result: list[dict[str, Any]] = self._transport.json(_GET_OR_CREATE_BULK, json_body=body)
        return result

    def set_task_run_states(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply many task-run states (and results) with one request, in order.

        Args:
            items: ``{"task_run_id", "state" (a State or its JSON form), "expected_version",
                "result" (bytes to store as the task run's result, before the state)}``;
                each needs ``task_run_id`` and a state or a result.

        Returns:
            One outcome per item: ``{"task_run_id", "status" ("accepted", "rejected" or
            "error"), "state", "version", "detail", "status_code"}``.
        """
        body: list[dict[str, Any]] = []
        for item in items:
            entry: dict[str, Any] = {"task_run_id": str(item["task_run_id"])}
            if item.get("state") is not None:
                entry["state"] = state_to_json(item["state"])
            if item.get("expected_version") is not None:
                entry["expected_version"] = item["expected_version"]
            if item.get("result") is not None:
                entry["result"] = base64.b64encode(item["result"]).decode("ascii")
            body.append(entry)
        if not body:
            return []
        answer = self._transport.json(_SET_STATES, json_body={"states": body})
        results: list[dict[str, Any]] = answer["results"]
        return results

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

    def get_latest_cached_states(
        self,
        flow_id: str | None = None,
        task_slug: str | None = None,
        cache_key: str | None = None,
        created_after: datetime | None = None,
        map_index: int | None = None,
        limit: int = 100,
    ) -> list[State]:
        """Recent ``Cached`` states of a task, newest first (Prefect 1's cache lookup).

        A state qualifies when its task run belongs to a run of flow version ``flow_id``
        with slug ``task_slug`` (and ``map_index``, when given), or when it carries
        ``cache_key`` (from any flow). Each returned state keeps its result and cached
        inputs as references; read them with ``state.load_result()``.

        Args:
            flow_id: the flow version whose runs to search (with ``task_slug``).
            task_slug: the task's slug in that flow.
            cache_key: a cache key shared across flows.
            created_after: only states stored at or after this time.
            map_index: only this map index (for the ``flow_id``/``task_slug`` search).
            limit: at most this many states per search.

        Returns:
            The states, newest first, without duplicates.

        Raises:
            ValueError: neither ``flow_id`` with ``task_slug`` nor ``cache_key`` is given.
        """
        searches: list[dict[str, Any]] = []
        if flow_id is not None and task_slug is not None:
            searches.append({"flow_id": flow_id, "task_slug": task_slug, "map_index": map_index})
        if cache_key is not None:
            searches.append({"cache_key": cache_key})
        if not searches:
            raise ValueError("get_latest_cached_states needs flow_id with task_slug, or cache_key")
        after = None if created_after is None else created_after.isoformat()
        found: dict[str, dict[str, Any]] = {}
        for search in searches:
            params = dict(search, state="Cached", state_after=after, sort="newest", limit=limit)
            for run in self._transport.json(_LIST, params=params):
                if run.get("state"):
                    found[str(run["id"])] = run
        runs = sorted(found.values(), key=lambda r: str(r.get("state_timestamp")), reverse=True)
        return [state_from_json(run["state"]) for run in runs]

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
