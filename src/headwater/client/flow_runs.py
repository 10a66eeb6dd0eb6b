"""Client methods for flow runs (``/flow-runs``), including the long-poll wait."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from headwater.client._base import route
from headwater.client._resource import Resource, state_from_json, state_to_json
from headwater.client.task_runs import TaskRunInfoResult
from headwater.exceptions import ObjectNotFound

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = ["FlowRunInfoResult", "FlowRunsMixin"]

# Creation always carries an idempotency key, so repeating it cannot make a second run.
_CREATE = route("POST", "/flow-runs", idempotent=True)
# Every item carries its key, and the server creates all or none: safe to repeat too.
_CREATE_BULK = route("POST", "/flow-runs/bulk", idempotent=True)
_LIST = route("GET", "/flow-runs")
_READ = route("GET", "/flow-runs/{flow_run_id}")
_DELETE = route("DELETE", "/flow-runs/{flow_run_id}")
_NAME = route("POST", "/flow-runs/{flow_run_id}/name", idempotent=True)
_LABELS = route("POST", "/flow-runs/{flow_run_id}/labels", idempotent=True)
_CANCEL = route("POST", "/flow-runs/{flow_run_id}/cancel", idempotent=True)
# Not retried: a repeated restart would be refused (the run is no longer failed).
_RESTART = route("POST", "/flow-runs/{flow_run_id}/restart")
_HEARTBEAT = route("POST", "/flow-runs/{flow_run_id}/heartbeat", idempotent=True)
_SET_STATE = route("POST", "/flow-runs/{flow_run_id}/state")
_STATES = route("GET", "/flow-runs/{flow_run_id}/states")
_CHILDREN = route("GET", "/flow-runs/{flow_run_id}/children")
_WAIT = route("GET", "/flow-runs/{flow_run_id}/wait")
_TASK_RUNS = route("GET", "/task-runs")

_FILTERS = frozenset(
    {
        "flow_id",
        "flow_group_id",
        "flow_name",
        "auto_scheduled",
        "upcoming",
        "project_name",
        "state",
        "label",
        "parent_flow_run_id",
        "name",
        "scheduled_before",
        "scheduled_after",
        "created_after",
        "created_before",
        "limit",
        "offset",
    }
)


@dataclass(frozen=True)
class FlowRunInfoResult:
    """What Prefect 1's ``get_flow_run_info`` returns.

    Attributes:
        id: the flow run id.
        name: the run's name.
        flow_id: the flow version it runs.
        version: the state version.
        parameters: the run's parameters.
        context: the run's context.
        state: the current state.
        scheduled_start_time: when it is due.
        labels: the run's labels.
        task_runs: its task runs.
        parent_flow_run_id: the run that created it, if any.
    """

    id: str
    name: str | None
    flow_id: str
    version: int
    parameters: dict[str, Any]
    context: dict[str, Any]
    state: State
    scheduled_start_time: datetime | None
    labels: list[str] = field(default_factory=list)
    task_runs: list[TaskRunInfoResult] = field(default_factory=list)
    parent_flow_run_id: str | None = None


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_CREATE_ARGUMENTS = frozenset(
    {
        "flow_id",
        "context",
        "parameters",
        "run_config",
        "labels",
        "scheduled_start_time",
        "idempotency_key",
        "run_name",
        "version_group_id",
        "flow_name",
        "project_name",
        "parent_flow_run_id",
        "parent_task_run_id",
    }
)


def _create_body(
    flow_id: str | None = None,
    context: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    run_config: Any = None,
    labels: list[str] | None = None,
    scheduled_start_time: datetime | str | None = None,
    idempotency_key: str | None = None,
    run_name: str | None = None,
    version_group_id: str | None = None,
    flow_name: str | None = None,
    project_name: str | None = None,
    parent_flow_run_id: str | None = None,
    parent_task_run_id: str | None = None,
) -> dict[str, Any]:
    """The ``POST /flow-runs`` body for :meth:`FlowRunsMixin.create_flow_run`'s arguments."""
    if not (flow_id or version_group_id or flow_name):
        raise ValueError("create_flow_run needs flow_id, version_group_id or flow_name")
    if run_config is not None and not isinstance(run_config, dict):
        run_config = run_config.to_ref() if hasattr(run_config, "to_ref") else run_config
    if isinstance(scheduled_start_time, datetime):
        scheduled_start_time = scheduled_start_time.isoformat()
    body: dict[str, Any] = {
        "flow_id": flow_id,
        "flow_group_id": version_group_id,
        "flow_name": flow_name,
        "project_name": project_name,
        "parameters": parameters,
        "context": context,
        "labels": list(labels) if labels is not None else None,
        "run_config": run_config,
        "name": run_name,
        "scheduled_start_time": scheduled_start_time,
        "idempotency_key": idempotency_key or uuid.uuid4().hex,
        "parent_flow_run_id": parent_flow_run_id,
        "parent_task_run_id": parent_task_run_id,
    }
    body = {k: v for k, v in body.items() if v is not None or k == "labels"}
    if body.get("labels") is None:
        body.pop("labels")
    return body


class FlowRunsMixin(Resource):
    """Create, read, rename, label, cancel, delete and wait for flow runs."""

    def create_flow_run(
        self,
        flow_id: str | None = None,
        context: dict[str, Any] | None = None,
        parameters: dict[str, Any] | None = None,
        run_config: Any = None,
        labels: list[str] | None = None,
        scheduled_start_time: datetime | str | None = None,
        idempotency_key: str | None = None,
        run_name: str | None = None,
        version_group_id: str | None = None,
        flow_name: str | None = None,
        project_name: str | None = None,
        parent_flow_run_id: str | None = None,
        parent_task_run_id: str | None = None,
    ) -> str:
        """Create a flow run of a flow version, a flow group, or a flow named ``flow_name``.

        Args:
            flow_id: the flow version to run.
            context: values for the run's ``headwater.context``.
            parameters: parameter values (merged over the flow's defaults).
            run_config: a RunConfig (or its reference dict) overriding the flow's.
            labels: the run's labels (None: the server picks them as Prefect 1 does).
            scheduled_start_time: when the run is due (default now).
            idempotency_key: repeating a key for the same flow group returns the run
                created the first time; a random key is sent when none is given.
            run_name: the run's name (default: generated).
            version_group_id: the flow group to run (its newest unarchived version).
            flow_name: the flow to run by name (with ``project_name`` if not unique).
            project_name: the project of ``flow_name``.
            parent_flow_run_id: the flow run that creates this one.
            parent_task_run_id: the task run that creates this one.

        Returns:
            The flow run id.

        Raises:
            ValueError: none of flow_id, version_group_id or flow_name was given.
        """
        body = _create_body(
            flow_id=flow_id,
            context=context,
            parameters=parameters,
            run_config=run_config,
            labels=labels,
            scheduled_start_time=scheduled_start_time,
            idempotency_key=idempotency_key,
            run_name=run_name,
            version_group_id=version_group_id,
            flow_name=flow_name,
            project_name=project_name,
            parent_flow_run_id=parent_flow_run_id,
            parent_task_run_id=parent_task_run_id,
        )
        return str(self._transport.json(_CREATE, json_body=body)["id"])

    def create_flow_runs(self, runs: list[dict[str, Any]]) -> list[str]:
        """Create many flow runs with one request (all or none), in order.

        Args:
            runs: one dict per run with :meth:`create_flow_run`'s keyword arguments. Each
                gets a random idempotency key unless it names one; a key already used in
                its flow group (or repeated in ``runs``) gives the existing run's id.

        Returns:
            The flow run ids, in the order of ``runs``.

        Raises:
            ValueError: a run names none of flow_id, version_group_id or flow_name, or
                has an unknown argument.
        """
        if not runs:
            return []
        bodies = []
        for index, spec in enumerate(runs):
            unknown = sorted(set(spec) - _CREATE_ARGUMENTS)
            if unknown:
                raise ValueError(f"runs[{index}]: unknown argument(s) {', '.join(unknown)}")
            bodies.append(_create_body(**spec))
        created = self._transport.json(_CREATE_BULK, json_body={"flow_runs": bodies})
        return [str(run["id"]) for run in created]

    def get_flow_run(self, flow_run_id: str) -> dict[str, Any]:
        """One flow run.

        Raises:
            ObjectNotFound: there is no such run.
        """
        result: dict[str, Any] = self._transport.json(_READ, {"flow_run_id": flow_run_id})
        return result

    def get_flow_run_info(self, flow_run_id: str) -> FlowRunInfoResult:
        """A flow run with its state and task runs, in Prefect 1's shape."""
        run = self.get_flow_run(flow_run_id)
        rows = self._transport.json(_TASK_RUNS, params={"flow_run_id": flow_run_id})
        return FlowRunInfoResult(
            id=str(run["id"]),
            name=run.get("name"),
            flow_id=str(run.get("flow_id")),
            version=int(run.get("version") or 0),
            parameters=dict(run.get("parameters") or {}),
            context=dict(run.get("context") or {}),
            state=state_from_json(run.get("state")),
            scheduled_start_time=_parse_time(run.get("scheduled_start_time")),
            labels=list(run.get("labels") or []),
            task_runs=[TaskRunInfoResult.from_json(row) for row in rows or []],
            parent_flow_run_id=run.get("parent_flow_run_id"),
        )

    def query_flow_runs(self, **filters: Any) -> list[dict[str, Any]]:
        """Flow runs matching the filters, newest first.

        Args:
            **filters: any of ``flow_id, flow_group_id, flow_name, project_name, state
                (str or list), label (str or list), parent_flow_run_id, name,
                scheduled_before, scheduled_after, created_after, created_before,
                auto_scheduled, upcoming, limit, offset``; ``upcoming=True`` keeps runs
                still Scheduled for a later time, soonest first.

        Raises:
            TypeError: an unknown filter name.
        """
        unknown = sorted(set(filters) - _FILTERS)
        if unknown:
            raise TypeError(f"query_flow_runs got unknown filter(s): {', '.join(unknown)}")
        result: list[dict[str, Any]] = self._transport.json(_LIST, params=filters)
        return result

    def set_flow_run_name(self, flow_run_id: str, name: str) -> bool:
        """Rename a flow run; False when the run does not exist."""
        try:
            self._transport.json(_NAME, {"flow_run_id": flow_run_id}, json_body={"name": name})
        except ObjectNotFound:
            return False
        return True

    def set_flow_run_labels(self, flow_run_id: str, labels: list[str]) -> bool:
        """Replace a flow run's labels; False when the run does not exist."""
        body = {"labels": list(labels)}
        try:
            self._transport.json(_LABELS, {"flow_run_id": flow_run_id}, json_body=body)
        except ObjectNotFound:
            return False
        return True

    def cancel_flow_run(self, flow_run_id: str, cascade: bool = True) -> dict[str, Any]:
        """Cancel a flow run (and by default its unfinished children).

        Returns:
            ``{"state": resulting type, "flow_run": FlowRun, "cancelled": [ids changed]}``.

        Raises:
            ObjectNotFound: there is no such run.
        """
        result: dict[str, Any] = self._transport.json(
            _CANCEL, {"flow_run_id": flow_run_id}, json_body={"cascade": bool(cascade)}
        )
        return result

    def restart_flow_run(self, flow_run_id: str) -> dict[str, Any]:
        """Restart a failed (or cancelled) flow run from its failed task runs on.

        The run's failed and never-finished task runs are reset, the finished ones keep
        their results (they are not run again, so child runs they created are not created
        again), and the run is scheduled to start now. Prefect 1 offered this in its UI
        ("Restart") but not as a client method.

        Returns:
            ``{"flow_run": FlowRun, "kept": [task run ids], "reset": [task run ids]}``.

        Raises:
            ObjectNotFound: there is no such run.
            ConflictError: the run is not Failed (or a failed-family state) or Cancelled.
        """
        result: dict[str, Any] = self._transport.json(_RESTART, {"flow_run_id": flow_run_id})
        return result

    def delete_flow_run(self, flow_run_id: str) -> bool:
        """Delete a flow run; False when it did not exist."""
        try:
            self._transport.call(_DELETE, {"flow_run_id": flow_run_id})
        except ObjectNotFound:
            return False
        return True

    def set_flow_run_state(
        self,
        flow_run_id: str,
        state: Any,
        version: int | None = None,
        agent_id: str | None = None,
    ) -> State:
        """Propose a new state for a flow run.

        Args:
            flow_run_id: the run.
            state: a State (or its JSON form).
            version: the state version the caller last saw; a stale one is a conflict.
            agent_id: the agent making the change, if any.

        Returns:
            The state the server holds afterwards (the proposed one unless rejected).

        Raises:
            ConflictError: ``version`` is stale.
        """
        body = {"state": state_to_json(state), "expected_version": version, "agent_id": agent_id}
        answer = self._transport.json(_SET_STATE, {"flow_run_id": flow_run_id}, json_body=body)
        return state_from_json(answer.get("state"))

    def get_flow_run_states(self, flow_run_id: str) -> list[dict[str, Any]]:
        """A flow run's state history, oldest first (``[{version, timestamp, state}]``)."""
        result: list[dict[str, Any]] = self._transport.json(_STATES, {"flow_run_id": flow_run_id})
        return result

    def update_flow_run_heartbeat(self, flow_run_id: str) -> None:
        """Tell the server the run's process is alive."""
        self._transport.call(_HEARTBEAT, {"flow_run_id": flow_run_id})

    def get_flow_run_children(
        self, flow_run_id: str, recursive: bool = False
    ) -> list[dict[str, Any]]:
        """The flow runs created by this one (all descendants with ``recursive``)."""
        result: list[dict[str, Any]] = self._transport.json(
            _CHILDREN, {"flow_run_id": flow_run_id}, params={"recursive": recursive}
        )
        return result

    def wait_for_flow_run(self, flow_run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """One long-poll: returns when the run is finished or after ``timeout`` seconds.

        Returns:
            ``{"finished": bool, "flow_run": FlowRun}``.
        """
        # The read timeout must outlast the server's hold time, or every wait would fail.
        read = httpx.Timeout(self._transport.timeout, read=float(timeout) + 30.0)
        result: dict[str, Any] = self._transport.json(
            _WAIT, {"flow_run_id": flow_run_id}, params={"timeout": timeout}, timeout=read
        )
        return result
