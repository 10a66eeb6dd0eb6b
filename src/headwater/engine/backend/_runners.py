"""Runners that report every state change to the server.

Contract (contracts.md section 5):

- :class:`BackendFlowRunner` writes each flow-run state through
  ``Client.set_flow_run_state``. When the server refuses a state (for example ``Running``
  for a run that was cancelled before it started), it raises :class:`RunRefused`, which
  propagates out of ``run()`` and ends the run without further writes.
- :class:`BackendFlowRunner` gets-or-creates the task runs in bulk: every task of the
  flow (map index -1) with one request when the first task is prepared, and all children
  of a mapped task with one request when the map is expanded; each task runner finds
  its server ``task_run_id`` in its context (results are checkpointed under it). A task
  runner without one (a task run outside a flow runner) gets-or-creates its own by
  (flow run, slug, map index). A retried task asks for the same (slug, map index), so
  it keeps its task-run id.
- Task states go to the process's task-state writer (``_states``) when one is
  installed, which sends them in batches; otherwise (executor worker processes) each is
  written with ``Client.set_task_run_state``. A ``Running`` state of a task with tags is
  proposed synchronously after a flush of the writer, since tag limits decide whether
  it may run (see ``_concurrency``). Every flow-run state is written after a flush, so
  the server never holds a final flow-run state ahead of its task runs' states.
- Task runners hold no client or other unpicklable state: executors that ship runners to
  other processes (Dask) get a runner that opens its own client there. The flow run id
  comes from the run context.
- A task with ``cache_for`` first looks for a usable cache in this process (and its
  ``target``), then asks the server for recent ``Cached`` states of the same task (same
  flow version, slug and map index) or, with a ``cache_key``, of any task sharing that
  key; the first one its ``cache_validator`` accepts (default: not expired) ends the run
  ``Cached`` with that state's result, read from where the earlier run stored it. Cached
  states sent to the server carry ``cache_key`` and ``hashed_inputs`` (sha256 of each
  input's pickle) so validators comparing inputs work across processes; an input that
  cannot be hashed never matches.
- A task with tags enters Running through a synchronous round trip that may wait in
  Queued while a tag is at its concurrency limit (see ``_concurrency``).
- A task run the server holds as ``Success``/``Cached`` (with a stored result) or
  ``Skipped`` when the task starts, because its flow run was resumed after a lost process
  or restarted after a failure, is not run again: its state is adopted with its result.
- Writes are retried through a server outage (see ``_retry``).
- In executor worker processes (set up by ``_worker_setup``) a task run's log records
  are sent before ``run()`` returns.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import cloudpickle

from headwater.client import Client
from headwater.client._config import resolve_api_url
from headwater.engine.backend._concurrency import needs_slot, start_when_slot_free
from headwater.engine.backend._retry import with_retries
from headwater.engine.backend._states import current_writer, flush_task_states
from headwater.engine.backend._worker_setup import flush_worker_logs
from headwater.engine.cache_validators import duration_only
from headwater.engine.flow_runner import FlowRunner
from headwater.engine.results import Result
from headwater.engine.state import Cached, State
from headwater.engine.task_runner import TaskRunner
from headwater.utilities.context import context as _context

if TYPE_CHECKING:
    from headwater.core.edge import Edge
    from headwater.core.flow import Flow

__all__ = [
    "BackendFlowRunner",
    "BackendTaskRunner",
    "RunRefused",
    "TaskRunRegistry",
    "registry",
    "use_client",
]

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


#: The task runs of this process (a flow-run process runs exactly one flow run).
registry = TaskRunRegistry()

_clients: dict[tuple[int, str], Client] = {}
_clients_lock = threading.Lock()


def _process_client() -> Client:
    """One client per process and server (task runners may run in executor workers).

    Keyed by server too: a long-lived Dask worker may serve runs reporting to different
    servers, each set up by its run's ``executor_worker_setup``.
    """
    key = (os.getpid(), resolve_api_url())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = Client()
        return client


def use_client(client: Client) -> None:
    """Make ``client`` the one task runners of this process use (saves a connection set-up)."""
    with _clients_lock:
        _clients[(os.getpid(), resolve_api_url())] = client


def _state_type(state: Any) -> str:
    return type(state).__name__


def _hash_value(value: Any) -> str:
    """The sha256 of ``value``'s pickle; a fresh random text when it cannot be pickled.

    Equal hashes mean equal pickles, hence equal values; equal values may still hash
    differently (dict order, shared references), which only costs a re-run.
    """
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception:
        try:
            data = cloudpickle.dumps(value, protocol=4)
        except Exception:
            return f"unhashable:{uuid.uuid4().hex}"
    return hashlib.sha256(data).hexdigest()


def _hash_inputs(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {name: _hash_value(value) for name, value in inputs.items()}


class _Unmatched:
    """A cached input value known to differ from the current one (equal to nothing)."""

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return "<input differs>"


def _restore_cached_inputs(
    candidate: Any, inputs: Mapping[str, Any], hashes: Mapping[str, str]
) -> None:
    """Give a Cached state read from the server comparable ``cached_inputs`` values.

    The server keeps input hashes, not values: an input whose hash matches gets the current
    value (it is equal), any other one a value equal to nothing, so the task's
    ``cache_validator`` decides exactly as it would in the process that made the cache.
    """
    stored: dict[str, str] = dict(candidate.hashed_inputs or {})
    names = set(stored) | set(candidate.cached_inputs or {})
    restored: dict[str, Result] = {}
    for name in names:
        if name in inputs and stored.get(name) == hashes.get(name):
            restored[name] = Result(value=inputs[name])
        else:
            restored[name] = Result(value=_Unmatched())
    candidate.cached_inputs = restored


#: Task-run states a resumed flow run keeps (see ``resumption`` on the server).
_KEPT_TYPES = frozenset({"Success", "Cached", "Skipped"})


class BackendTaskRunner(TaskRunner):
    """A task runner that records its task run and every state on the server.

    Args:
        task: The task to run.
        state_handlers: Runner-level state handlers.
        flow_result: The flow's default Result (the server result store by default).
    """

    task_run_id: str | None = None

    def run(
        self,
        state: State | None = None,
        upstream_states: Mapping[Edge, State] | None = None,
        context: Mapping[str, Any] | None = None,
        is_mapped_parent: bool = False,
        constants: Mapping[str, Any] | None = None,
    ) -> State:
        """Run the task; in an executor worker process, ship its log records before returning.

        Pool processes exit without ``atexit`` hooks, so the records of a task run are sent
        before its state goes back to the flow runner (no-op in the flow-run process).
        """
        try:
            return super().run(state, upstream_states, context, is_mapped_parent, constants)
        finally:
            flush_worker_logs()

    def initialize_run(self, state: State | None, context: dict[str, Any]) -> Any:
        """Get-or-create the task run and put the server's task run id into the context."""
        flow_run_id = context.get("flow_run_id") or _context.get("flow_run_id")
        if not flow_run_id:
            raise ValueError(f"task {self.task.name!r}: no flow_run_id in the run context")
        if context.get("task_run_registered") and context.get("task_run_id"):
            # The flow runner created it (in bulk) and put its server id here, with the
            # finished state the server holds for it when the run was resumed.
            self.task_run_id = str(context["task_run_id"])
            kept = self._kept_state(state, context.pop("task_run_stored_state", None))
            if kept is not None:
                state = kept
            return super().initialize_run(state, context)
        raw_index = context.get("map_index")
        map_index = -1 if raw_index is None else int(raw_index)
        client = _process_client()
        # The flow assigns a slug to every task it holds; fall back to the name for a
        # task run outside a flow.
        slug, name = self.task.slug or self.task.name, self.task.name
        task_run = with_retries(
            lambda: client.get_or_create_task_run(
                str(flow_run_id), slug, map_index=map_index, task_name=name
            ),
            "create a task run",
        )
        self.task_run_id = str(task_run["id"])
        context["task_run_id"] = self.task_run_id
        context["task_run_version"] = task_run.get("version")
        kept = self._kept_state(state, task_run.get("state"))
        if kept is not None:
            state = kept
        return super().initialize_run(state, context)

    def _kept_state(self, state: State | None, stored: Any) -> State | None:
        """The finished state a resumed or restarted run keeps for this task run, if any.

        A flow run resumed after the loss of its process, or restarted after a failure,
        keeps the task runs that ended Success, Cached or Skipped with a stored result
        (the server resets every other one). Such a task is not run again: its state is
        adopted with the result read back, so downstream tasks get the same value and a
        child flow run it created is not created again.
        """
        if state is not None and type(state).__name__ not in ("Pending", "Scheduled"):
            return None
        if not isinstance(stored, dict) or stored.get("type") not in _KEPT_TYPES:
            return None
        if stored["type"] != "Skipped" and not stored.get("result"):
            return None
        try:
            kept = State.deserialize(stored)
            kept.load_result()
        except Exception as exc:
            logger.warning(
                "Task %r: the result of its earlier run cannot be read (%s); running it again",
                self.task.name,
                exc,
            )
            return None
        logger.info(
            "Task %r: keeping its %s state from an earlier run of this flow run",
            self.task.name,
            stored["type"],
        )
        return kept

    def _check_cached(self, inputs: dict[str, Any]) -> State | None:
        """A usable cache from this process or target, else from the server, or ``None``."""
        found = super()._check_cached(inputs)
        if found is not None or self.task.cache_for is None:
            return found
        return self._check_server_cache(inputs)

    def _check_server_cache(self, inputs: dict[str, Any]) -> State | None:
        task = self.task
        assert task.cache_for is not None
        flow_id = _context.get("flow_id")
        slug = task.slug
        if (flow_id is None or slug is None) and task.cache_key is None:
            return None
        raw_index = _context.get("map_index")
        map_index = -1 if raw_index is None else int(raw_index)
        client = _process_client()
        # Cached states this process queued must be visible to the lookup.
        flush_task_states()
        after = datetime.now(UTC) - task.cache_for
        try:
            candidates = with_retries(
                lambda: client.get_latest_cached_states(
                    flow_id=None if flow_id is None else str(flow_id),
                    task_slug=slug,
                    cache_key=task.cache_key,
                    created_after=after,
                    map_index=map_index,
                ),
                "look up cached states",
            )
        except Exception as exc:
            # Without the lookup the task simply runs; the cache is an optimisation.
            logger.warning("Could not look up cached states of task %r: %s", task.name, exc)
            return None
        validator = task.cache_validator or duration_only
        parameters = dict(_context.get("parameters") or {})
        hashes = _hash_inputs(inputs)
        for candidate in candidates:
            if not isinstance(candidate, Cached):
                continue
            _restore_cached_inputs(candidate, inputs, hashes)
            if not validator(candidate, inputs, parameters):
                continue
            try:
                candidate.load_result()
            except Exception as exc:
                # The earlier result is gone or unreadable here: try an older one.
                logger.debug("Cached result of task %r not readable: %s", task.name, exc)
                continue
            return candidate
        return None

    def _cache(self, state: State, inputs: dict[str, Any]) -> State:
        """The local runner's Cached state, plus input hashes for later runs elsewhere."""
        cached = super()._cache(state, inputs)
        if isinstance(cached, Cached):
            cached.hashed_inputs = _hash_inputs(inputs)
        return cached

    def _state_json(self, state: State) -> dict[str, Any]:
        """The state's JSON form; a Cached one carries the task's ``cache_key``."""
        data = state.serialize()
        if state.is_cached() and self.task.cache_key is not None:
            data["cache_key"] = self.task.cache_key
        return data

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """Run the task's state handlers, then write the resulting state to the server."""
        new_state = super().call_runner_target_handlers(old_state, new_state)
        task_run_id = self.task_run_id
        if task_run_id is None or new_state is None:
            return new_state
        registry.update(task_run_id, _state_type(new_state))
        writer = current_writer()
        if writer is not None and not needs_slot(self.task, new_state):
            writer.submit(task_run_id, self._state_json(new_state))
            return new_state
        client = _process_client()
        # -- Task concurrency limits by tag (._concurrency): a tagged task's Running is a
        # synchronous round trip that may wait in Queued for a slot. Keep it unbatched,
        # after the task run's earlier states that the writer still holds.
        if needs_slot(self.task, new_state):
            if writer is not None:
                writer.flush()
            new_state = start_when_slot_free(client, task_run_id, new_state, self.task.name)
            registry.update(task_run_id, _state_type(new_state))
            return new_state
        # -- end of the concurrency-limit hook
        try:
            data = self._state_json(new_state)
            with_retries(
                lambda: client.set_task_run_state(task_run_id, data),
                "record a task state",
            )
        except Exception as exc:
            # The task's outcome stands even if the server could not record this step;
            # the flow-run state written at the end reflects it.
            logger.warning(
                "Could not record state %s of task run %s: %s",
                _state_type(new_state),
                task_run_id,
                exc,
            )
        return new_state


class BackendFlowRunner(FlowRunner):
    """A flow runner that records every flow-run state on the server.

    Args:
        flow: The flow to run.
        client: Client used for the writes.
        flow_run_id: The flow run this process executes.
        state_handlers: Runner-level state handlers.
    """

    def __init__(
        self,
        flow: Flow,
        client: Client,
        flow_run_id: str,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(flow, task_runner_cls=BackendTaskRunner, state_handlers=state_handlers)
        self.client = client
        self.flow_run_id = flow_run_id
        self.registry = registry
        self.last_reported: State | None = None
        self.finishing = False
        #: Called before a final flow-run state is written (the process delivers its
        #: logs then, so a finished run's logs are on the server).
        self.before_final_state: Callable[[], object] | None = None
        self._server_ids: dict[tuple[str, int], str] = {}
        # Finished states the server holds for task runs of a resumed or restarted run.
        self._stored_states: dict[tuple[str, int], dict[str, Any]] = {}
        self._ids_lock = threading.Lock()

    # ------------------------------------------------------------------ task runs in bulk

    def _register_task_runs(self, keys: list[tuple[str, int, str | None]]) -> None:
        """Get-or-create these task runs with one request and remember their ids."""
        wanted = [k for k in keys if (k[0], k[1]) not in self._server_ids]
        if not wanted:
            return
        body = [{"task_slug": s, "map_index": i, "task_name": n} for s, i, n in wanted]
        rows = with_retries(
            lambda: self.client.get_or_create_task_runs(self.flow_run_id, body),
            "create task runs",
        )
        for row in rows:
            key = (str(row["task_slug"]), int(row["map_index"]))
            self._server_ids[key] = str(row["id"])
            stored = row.get("state")
            if isinstance(stored, dict) and stored.get("type") in _KEPT_TYPES:
                self._stored_states[key] = stored

    def _task_run_id(self, task: Any, map_index: int | None) -> str:
        """The server's id of this task run; the first call creates the flow's in bulk."""
        index = -1 if map_index is None else int(map_index)
        key = (task.slug or task.name, index)
        with self._ids_lock:
            found = self._server_ids.get(key)
            if found is None:
                if index == -1:
                    self._register_task_runs(
                        [(t.slug or t.name, -1, t.name) for t in self.flow.sorted_tasks()]
                    )
                self._register_task_runs([(key[0], index, task.name)])
                found = self._server_ids[key]
        return found

    def _prepare_mapped_children(
        self,
        task: Any,
        count: int,
        per_edge: dict[Any, list[State]],
        constants: dict[str, Any] | None,
    ) -> None:
        """Create all ``count`` children of a mapped task with one request.

        A task with a ``prepare_mapped_runs`` callable (``create_flow_run``) is then
        handed every child's inputs, task run id and map index, so it can do its
        children's requests in bulk; it is skipped when an upstream did not succeed.
        """
        slug = task.slug or task.name
        with self._ids_lock:
            self._register_task_runs([(slug, i, task.name) for i in range(count)])
            ids = [self._server_ids[(slug, i)] for i in range(count)]
        prepare = getattr(task, "prepare_mapped_runs", None)
        if not callable(prepare) or count == 0:
            return
        if any(not s.is_successful() for states in per_edge.values() for s in states):
            return
        children = []
        for i in range(count):
            inputs = dict(constants or {})
            for edge, states in per_edge.items():
                if edge.key is not None:
                    inputs[edge.key] = states[i].result
            children.append((inputs, ids[i], i))
        try:
            prepare(children)
        except Exception as exc:
            # Preparation only saves requests: each child still does its own work.
            logger.debug("Could not prepare the children of %r in bulk: %s", task.name, exc)

    def _task_context(
        self, task: Any, base: dict[str, Any] | None, map_index: int | None
    ) -> dict[str, Any]:
        ctx = super()._task_context(task, base, map_index)
        # Every id this runner hands out is the server's (see _task_run_id).
        ctx["task_run_registered"] = True
        index = -1 if map_index is None else int(map_index)
        stored = self._stored_states.get((task.slug or task.name, index))
        if stored is not None:
            ctx["task_run_stored_state"] = stored
        return ctx

    def call_runner_target_handlers(self, old_state: State, new_state: State) -> State:
        """Run the flow's state handlers, then write the state; RunRefused if refused."""
        new_state = super().call_runner_target_handlers(old_state, new_state)
        if new_state is None:
            return new_state
        if new_state.is_finished():
            # From here on the server may show a finished state this process set itself.
            self.finishing = True
        # The task runs' states first: a final flow-run state is never ahead of them.
        flush_task_states()
        if new_state.is_finished() and self.before_final_state is not None:
            self.before_final_state()
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
