"""FlowRunView: a read-only snapshot of one flow run, its history, task runs and lineage.

Contract:
    * ``FlowRunView.from_flow_run_id(id)`` loads one run; a missing run raises
      ``ValueError``. A run without a state yet shows ``Pending``.
    * Only task runs in a finished state are cached (they cannot change any more), so a
      cached answer is never stale. ``get_latest()`` returns a *new* view and carries the
      cache over; the original view is never modified.
    * Lineage: ``parent_flow_run_id`` / ``parent_task_run_id`` name the run and task run
      that created this one; ``get_children(recursive=False)`` lists the runs it created.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.backend._common import default_client, deserialize_state, parse_time, state_repr
from headwater.backend._flow import FlowView
from headwater.backend._task_run import TaskRunView
from headwater.exceptions import ObjectNotFound

if TYPE_CHECKING:
    from headwater.client import Client
    from headwater.engine.state import State

__all__ = ["FlowRunLog", "FlowRunView"]

_MAX_TASK_RUNS = 1000


@dataclass(frozen=True, order=True)
class FlowRunLog:
    """One log record of a flow run (or a state change rendered as a log line).

    Attributes:
        timestamp: when the record was written.
        level: the numeric logging level (``logging.INFO`` ...).
        message: the text.
    """

    timestamp: datetime
    level: int
    message: str

    @classmethod
    def from_log_data(cls, data: dict[str, Any]) -> FlowRunLog:
        """Build a record from the server's Log object."""
        return cls(
            timestamp=parse_time(data.get("timestamp")) or datetime.min,
            level=level_number(data.get("level")),
            message=str(data.get("message", "")),
        )


def level_number(level: Any) -> int:
    """Convert a level name (``"INFO"``) or number to a logging level number."""
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level or "INFO").upper())
    return number if isinstance(number, int) else logging.INFO


class FlowRunView:
    """A flow run as the server knows it.

    Attributes:
        flow_run_id: the run's id.
        name: the run's name.
        flow_id: the flow version the run belongs to.
        state: the current state.
        labels: the run's labels.
        parameters: the run's parameters.
        context: the context the run was created with.
        run_config: the run config reference (a dict) or ``None``.
        updated_at: when the server last changed the run.
        parent_flow_run_id: the run that created this one, if any.
        parent_task_run_id: the task run that created this one, if any.
    """

    def __init__(
        self,
        data: dict[str, Any],
        *,
        client: Client | None = None,
        task_runs: list[TaskRunView] | None = None,
    ) -> None:
        self._data = data
        self._client = client
        self.flow_run_id: str = str(data["id"])
        self.name: str | None = data.get("name")
        self.flow_id: str | None = data.get("flow_id")
        self.state: State = deserialize_state(data.get("state"))
        self.labels: list[str] = list(data.get("labels") or [])
        self.parameters: dict[str, Any] = dict(data.get("parameters") or {})
        self.context: dict[str, Any] = dict(data.get("context") or {})
        self.run_config: dict[str, Any] | None = data.get("run_config")
        self.updated_at: datetime | None = parse_time(data.get("updated"))
        self.parent_flow_run_id: str | None = data.get("parent_flow_run_id")
        self.parent_task_run_id: str | None = data.get("parent_task_run_id")
        self._states: list[State] | None = None
        self._flow: FlowView | None = None
        self._cache_by_id: dict[str, TaskRunView] = {}
        for view in task_runs or []:
            self._cache(view)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def from_flow_run_id(
        cls, flow_run_id: str, load_static_tasks: bool = False, client: Client | None = None
    ) -> FlowRunView:
        """Load a flow run by id.

        Args:
            flow_run_id: the run's id.
            load_static_tasks: also load (and cache the finished ones of) the run's
                unmapped task runs.
            client: the client to use (default: one built from the environment).

        Raises:
            TypeError: if ``flow_run_id`` is not a string.
            ValueError: if no flow run has this id.
        """
        if not isinstance(flow_run_id, str):
            raise TypeError(
                f"`flow_run_id` must be a string, got {type(flow_run_id).__name__}: {flow_run_id!r}"
            )

        client = default_client(client)
        try:
            data = client.get_flow_run(flow_run_id)
        except ObjectNotFound:
            raise ValueError(f"No flow runs found with id {flow_run_id!r}.") from None
        view = cls(data, client=client)
        if load_static_tasks:
            view._load_static_tasks()
        return view

    @classmethod
    def from_flow_run_data(cls, data: dict[str, Any], client: Client | None = None) -> FlowRunView:
        """Build a view from the server's FlowRun object."""
        return cls(data, client=client)

    def get_latest(self, load_static_tasks: bool = False) -> FlowRunView:
        """Return a new view with fresh data; finished task runs stay cached."""
        view = FlowRunView.from_flow_run_id(self.flow_run_id, client=self._client)
        for cached in self._cache_by_id.values():
            view._cache(cached)
        view._flow = self._flow
        if load_static_tasks:
            view._load_static_tasks()
        return view

    # -- plain data ----------------------------------------------------------------------

    @property
    def flow_name(self) -> str | None:
        """The name of the run's flow."""
        return self._data.get("flow_name")

    @property
    def project_name(self) -> str | None:
        """The project of the run's flow."""
        return self._data.get("project_name")

    @property
    def flow_group_id(self) -> str | None:
        """The flow group of the run's flow."""
        return self._data.get("flow_group_id")

    @property
    def scheduled_start_time(self) -> datetime | None:
        """When the run was scheduled to start."""
        return parse_time(self._data.get("scheduled_start_time"))

    @property
    def start_time(self) -> datetime | None:
        """When the run started running."""
        return parse_time(self._data.get("start_time"))

    @property
    def end_time(self) -> datetime | None:
        """When the run finished."""
        return parse_time(self._data.get("end_time"))

    @property
    def idempotency_key(self) -> str | None:
        """The key the run was created with."""
        return self._data.get("idempotency_key")

    @property
    def state_timestamp(self) -> datetime | None:
        """When the current state was stored."""
        return parse_time(self._data.get("state_timestamp"))

    @property
    def data(self) -> dict[str, Any]:
        """The server's FlowRun object this view was built from (a copy)."""
        return dict(self._data)

    @property
    def states(self) -> list[State]:
        """The run's state history, oldest first; each state has a ``timestamp``."""
        if self._states is None:
            client = default_client(self._client)
            rows = client.get_flow_run_states(self.flow_run_id)
            states: list[State] = []
            for row in sorted(rows, key=lambda r: r.get("version") or 0):
                state = deserialize_state(row.get("state"))
                try:
                    state.timestamp = parse_time(row.get("timestamp"))  # type: ignore[attr-defined]
                except AttributeError:  # pragma: no cover - slotted state classes
                    pass
                states.append(state)
            self._states = states
        return list(self._states)

    # -- related objects -----------------------------------------------------------------

    def get_flow_metadata(self, no_cache: bool = False) -> FlowView:
        """Return the :class:`FlowView` of the run's flow (cached unless ``no_cache``)."""
        if self._flow is None or no_cache:
            if not self.flow_id:
                raise ValueError(f"Flow run {self.flow_run_id} has no flow id.")
            self._flow = FlowView.from_flow_id(self.flow_id, client=self._client)
        return self._flow

    def get_logs(
        self, start_time: datetime | None = None, end_time: datetime | None = None
    ) -> list[FlowRunLog]:
        """Return the run's logs (flow and task level) in ascending time order.

        Args:
            start_time: only logs strictly after this time.
            end_time: only logs at or before this time (default: the view's ``updated_at``).
        """
        client = default_client(self._client)
        end = end_time or self.updated_at
        rows = client.get_logs(self.flow_run_id, after=start_time, before=end)
        logs = [FlowRunLog.from_log_data(row) for row in rows]
        if start_time is not None:
            logs = [log for log in logs if log.timestamp > start_time]
        if end is not None:
            logs = [log for log in logs if log.timestamp <= end]
        return logs

    def get_children(self, recursive: bool = False) -> list[FlowRunView]:
        """Return the flow runs this run created (with ``recursive``, their children too)."""
        client = default_client(self._client)
        rows = client.get_flow_run_children(self.flow_run_id, recursive=recursive)
        return [FlowRunView(row, client=client) for row in rows]

    def get_parent(self) -> FlowRunView | None:
        """Return a view of the run that created this one, or ``None``."""
        if not self.parent_flow_run_id:
            return None
        return FlowRunView.from_flow_run_id(self.parent_flow_run_id, client=self._client)

    # -- task runs -----------------------------------------------------------------------

    def _cache(self, view: TaskRunView) -> None:
        if view.state.is_finished():
            self._cache_by_id[view.task_run_id] = view

    def _cached_by_slug(self, task_slug: str, map_index: int) -> TaskRunView | None:
        for view in self._cache_by_id.values():
            if view.task_slug == task_slug and view.map_index == map_index:
                return view
        return None

    def _load_static_tasks(self) -> None:
        client = default_client(self._client)
        for row in client.query_task_runs(flow_run_id=self.flow_run_id, map_index=-1):
            if row.get("id") not in self._cache_by_id:
                self._cache(TaskRunView.from_task_run_data(row, client=client))

    def get_task_run(
        self,
        task_slug: str | None = None,
        task_run_id: str | None = None,
        map_index: int | None = None,
    ) -> TaskRunView:
        """Return one task run of this flow run, by id or by slug (and map index).

        Raises:
            ValueError: if neither a slug nor an id is given, if the task run does not
                exist, or if an id is given with a slug or map index that does not match.
        """
        if task_run_id is not None:
            view = self._cache_by_id.get(task_run_id)
            if view is None:
                view = TaskRunView.from_task_run_id(task_run_id, client=self._client)
                self._cache(view)
            if task_slug is not None and view.task_slug != task_slug:
                raise ValueError(
                    f"Task run {task_run_id} has slug {view.task_slug!r}, not {task_slug!r}."
                )
            if map_index is not None and view.map_index != map_index:
                raise ValueError(
                    f"Task run {task_run_id} has map index {view.map_index}, not {map_index}."
                )
            return view
        if task_slug is not None:
            index = -1 if map_index is None else map_index
            cached = self._cached_by_slug(task_slug, index)
            if cached is not None:
                return cached
            view = TaskRunView.from_task_slug(
                task_slug, self.flow_run_id, map_index=index, client=self._client
            )
            self._cache(view)
            return view
        raise ValueError("Pass `task_slug` or `task_run_id` to choose a task run.")

    def get_all_task_runs(self) -> list[TaskRunView]:
        """Return every task run of this flow run (at most 1000).

        Raises:
            ValueError: if the run has more than 1000 task runs.
        """
        client = default_client(self._client)
        rows = client.query_task_runs(flow_run_id=self.flow_run_id, limit=_MAX_TASK_RUNS + 1)
        if len(rows) > _MAX_TASK_RUNS:
            raise ValueError(
                f"Flow run {self.flow_run_id} has more than {_MAX_TASK_RUNS} task runs; "
                "load them one by one with get_task_run()."
            )
        views: list[TaskRunView] = []
        for row in rows:
            cached = self._cache_by_id.get(str(row.get("id")))
            view = cached or TaskRunView.from_task_run_data(row, client=client)
            self._cache(view)
            views.append(view)
        return views

    def get_task_run_ids(self) -> list[str]:
        """Return the ids of every task run of this flow run."""
        client = default_client(self._client)
        return [str(row["id"]) for row in client.query_task_runs(flow_run_id=self.flow_run_id)]

    def __getstate__(self) -> dict[str, Any]:
        # A view is a task result (wait_for_flow_run), so it must pickle: drop the client,
        # which holds open connections; an unpickled view builds a default client.
        state = dict(self.__dict__)
        state["_client"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"FlowRunView(flow_run_id={self.flow_run_id!r}, name={self.name!r}, "
            f"state={state_repr(self.state)}, labels={self.labels!r}, "
            f"cached_task_runs={len(self._cache_by_id)})"
        )
