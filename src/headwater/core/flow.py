"""The Flow: a graph of tasks joined by edges, and the entry point for running it.

Contract:
    A flow holds tasks, edges and per-task constants (plain values bound as inputs).
    Build it functionally (``with Flow("name") as flow:`` and call tasks) or imperatively
    (``add_task``, ``add_edge``, ``set_dependencies``). Every task added gets a slug that
    is unique in the flow and stable for the same build order: an explicit ``slug`` is
    kept (a duplicate is a ValueError), otherwise ``<name>[-<sorted tags>]-<n>`` with
    ``n`` counting from 1 per base. The slug is written to ``task.slug``; the backend
    matches task runs by it.

    ``sorted_tasks()`` is a topological order (ties broken by insertion order), computed
    once per graph change; a cycle is a ValueError naming the tasks in it.
    ``serialize()`` gives the JSON-able description the server stores. ``run()`` runs the
    flow in this process and returns its final state, whose ``result`` maps each task to
    its state.

    The loading guard (as in Prefect 1): while storage or the command line executes a
    flow's script, imports its module or unpickles it (``headwater.context.loading_flow``
    is True), ``run()`` and ``register()`` do nothing, log one warning naming the flow,
    and return None, so a script that calls them at module level is safe to load.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextvars import Token
from typing import TYPE_CHECKING, Any

from headwater.core._active import ACTIVE_FLOW
from headwater.core._as_task import as_task
from headwater.core._constants import Constant
from headwater.core._graph import copy_flow, replace_task, topological_order, update_flow
from headwater.core._serialize import load_flow, save_flow, serialize_flow
from headwater.core._serialize import run_on_schedule as _scheduled
from headwater.core.edge import Edge, EdgeAnnotation, unmapped
from headwater.core.parameter import Parameter
from headwater.core.task import Task, _FailureCallback
from headwater.utilities.configuration import config, configured_class
from headwater.utilities.context import context
from headwater.utilities.logging import get_logger

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = ["Flow"]

_RUNNER_KWARGS = frozenset(
    {"task_states", "return_tasks", "task_contexts", "state", "task_runner_state_handlers"}
)


def _loading_guard(flow: Flow, method: str, skipped: str) -> bool:
    """True (after logging why) when ``flow.<method>()`` is called while a flow loads."""
    if not context.get("loading_flow", False):
        return False
    where = context.get("local_script_path")
    source = f"its script {where}" if where else "its storage"
    get_logger("Flow").warning(
        "Flow %r: flow.%s() was called while the flow is being loaded from %s "
        "(headwater.context.loading_flow is set); %s. Flows are registered and run by "
        "the program that defines them, not while they are loaded.",
        flow.name,
        method,
        source,
        skipped,
    )
    return True


def _eager_validation() -> bool:
    flows = config.get("flows") or {}
    return bool(flows.get("eager_edge_validation", False))


class Flow:
    """A graph of tasks.

    Args:
        name: the flow's name.
        schedule: when the flow runs (used by ``run(run_on_schedule=True)`` and the server).
        executor: default executor for ``run()`` (default: ``LocalExecutor``).
        environment: accepted for Prefect 1 compatibility; unused.
        run_config: how agents run the flow (``LocalRun``/``UniversalRun``).
        storage: where the registered flow's code is kept.
        tasks: tasks to add.
        edges: edges to add.
        reference_tasks: tasks whose states decide the flow's state (default: terminal).
        state_handlers: ``fn(flow, old_state, new_state) -> State | None``.
        result: default Result for checkpointing every task's value.
        validate: accepted for compatibility; graphs are validated when sorted.
        on_failure: ``fn(flow, state)`` called when the flow run ends failed.
        terminal_state_handler: ``fn(flow, state, reference_task_states) -> State |
            None``; a returned state replaces the flow run's final state.

    Raises:
        TypeError: when ``name`` is not a string or a handler is not callable.
    """

    def __init__(
        self,
        name: str,
        schedule: Any = None,
        executor: Any = None,
        environment: Any = None,
        run_config: Any = None,
        storage: Any = None,
        tasks: Iterable[Task] | None = None,
        edges: Iterable[Edge] | None = None,
        reference_tasks: Iterable[Task] | None = None,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
        validate: bool | None = None,
        result: Any = None,
        on_failure: Callable[..., Any] | None = None,
        terminal_state_handler: Callable[..., Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"A flow name must be a non-empty string, got {name!r}.")
        self.name = name
        self.schedule = schedule
        self.executor = executor
        self.environment = environment
        self.run_config = run_config
        self.storage = storage
        self.result = result
        self.state_handlers: list[Callable[..., Any]] = list(state_handlers or [])
        if on_failure is not None:
            self.state_handlers.append(_FailureCallback(on_failure))
        self.terminal_state_handler = terminal_state_handler
        for handler in [*self.state_handlers, terminal_state_handler or callable]:
            if not callable(handler):
                raise TypeError(f"Flow {name!r}: state handler {handler!r} is not callable.")
        self.tasks: set[Task] = set()
        self.edges: set[Edge] = set()
        self.constants: defaultdict[Task, dict[str, Any]] = defaultdict(dict)
        self.slugs: dict[Task, str] = {}
        self._slug_counters: dict[str, int] = {}
        self._upstream: dict[Task, set[Edge]] = {}
        self._downstream: dict[Task, set[Edge]] = {}
        self._reference_tasks: set[Task] = set()
        self._sorted: list[Task] | None = None
        self._tokens: list[tuple[Token[Flow | None], Any]] = []
        for t in tasks or ():
            self.add_task(t)
        for e in edges or ():
            self.add_edge(e.upstream_task, e.downstream_task, e.key, e.mapped, e.flattened)
        self.set_reference_tasks(reference_tasks or [])

    def __repr__(self) -> str:
        return f'<Flow: name="{self.name}">'

    def __enter__(self) -> Flow:
        # Prefect 1 code reads the flow being built from ``context.flow``.
        push = context(flow=self)
        push.__enter__()
        self._tokens.append((ACTIVE_FLOW.set(self), push))
        return self

    def __exit__(self, *exc: object) -> None:
        token, push = self._tokens.pop()
        push.__exit__(*exc)
        ACTIVE_FLOW.reset(token)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.sorted_tasks())

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tokens"] = []  # context tokens belong to the building thread
        return state

    # ------------------------------------------------------------------ building

    def _changed(self) -> None:
        self._sorted = None

    def _generate_slug(self, task: Task) -> str:
        base = task.name
        if task.tags:
            base = f"{base}-{'-'.join(sorted(task.tags))}"
        n = self._slug_counters.get(base, 0)
        existing = {t.slug for t in self.tasks}
        while True:
            n += 1
            slug = f"{base}-{n}"
            if slug not in existing:
                break
        self._slug_counters[base] = n
        return slug

    def add_task(self, task: Task) -> Task:
        """Add a task (no edges).

        Returns:
            The task.

        Raises:
            TypeError: when ``task`` is not a Task.
            ValueError: when another task of this flow has the same explicit slug.
        """
        if not isinstance(task, Task):
            raise TypeError(f"Flow {self.name!r}: tasks must be Task instances, got {task!r}.")
        if task in self.tasks:
            return task
        if task.slug and not task._auto_slug:
            if any(t.slug == task.slug for t in self.tasks):
                raise ValueError(
                    f'Flow {self.name!r}: a task with the slug "{task.slug}" already exists'
                    f" in this flow ({task})."
                )
            slug = task.slug
        elif task.slug and not any(t.slug == task.slug for t in self.tasks):
            slug = task.slug  # assigned by another flow (update, copy): keep it stable
        else:
            slug = self._generate_slug(task)
            task._auto_slug = True
        task.slug = slug
        self.slugs[task] = slug
        self.tasks.add(task)
        self._upstream[task] = set()
        self._downstream[task] = set()
        self._changed()
        return task

    def add_edge(
        self,
        upstream_task: Any,
        downstream_task: Task,
        key: str | None = None,
        mapped: bool = False,
        flattened: bool = False,
        validate: bool | None = None,
    ) -> Edge | None:
        """Add an edge, adding its tasks as needed.

        A plain value as ``upstream_task`` becomes a constant input (or a Constant task
        when mapped or flattened). Collections that contain tasks become collection tasks.

        Returns:
            The edge, or ``None`` when the value was stored as a constant.

        Raises:
            ValueError: when ``key`` is already bound for the downstream task, or is not
                an input of its ``run()``.
        """
        if isinstance(upstream_task, EdgeAnnotation):
            for name, value in upstream_task.annotations.items():
                if name == "mapped":
                    mapped = value
                else:
                    flattened = value
            upstream_task = upstream_task.task
        if not isinstance(downstream_task, Task):
            raise TypeError(
                f"Flow {self.name!r}: downstream_task must be a Task, got {downstream_task!r}."
            )
        if key is not None:
            inputs = downstream_task._run_signature().parameters
            if key not in inputs and not any(p.kind == p.VAR_KEYWORD for p in inputs.values()):
                raise ValueError(
                    f"Flow {self.name!r}: task {downstream_task.name!r} has no input {key!r}"
                    f" (its run() takes: {', '.join(inputs) or 'nothing'})."
                )
            if key in self.constants.get(downstream_task, {}) or any(
                e.key == key for e in self._upstream.get(downstream_task, ())
            ):
                raise ValueError(
                    f"Flow {self.name!r}: argument {key!r} of task {downstream_task.name!r}"
                    " has already been assigned in this flow."
                )
        is_task = isinstance(upstream_task, Task)
        if not is_task:
            converted = as_task(upstream_task, flow=self)
            if isinstance(converted, Constant) and not mapped and not flattened:
                if key is None:
                    raise ValueError(
                        f"Flow {self.name!r}: the value {upstream_task!r} can only be bound"
                        f" to task {downstream_task.name!r} as a keyword input."
                    )
                self.add_task(downstream_task)
                self.constants[downstream_task][key] = converted.value
                self._changed()
                return None
            upstream_task = converted
        self.add_task(upstream_task)
        self.add_task(downstream_task)
        edge = Edge(upstream_task, downstream_task, key=key, mapped=mapped, flattened=flattened)
        if edge not in self.edges:
            if validate is None:
                validate = _eager_validation()
            if validate and self._reaches(downstream_task, upstream_task):
                raise ValueError(
                    f"Cycle found; flows must be acyclic! The edge {edge} in flow"
                    f" {self.name!r} would close a cycle."
                )
            self.edges.add(edge)
            self._upstream[downstream_task].add(edge)
            self._downstream[upstream_task].add(edge)
            self._changed()
        return edge

    def _reaches(self, start: Task, goal: Task) -> bool:
        """Whether ``goal`` is ``start`` or downstream of it."""
        seen: set[Task] = set()
        stack = [start]
        while stack:
            t = stack.pop()
            if t is goal:
                return True
            if t not in seen:
                seen.add(t)
                stack.extend(e.downstream_task for e in self._downstream.get(t, ()))
        return False

    def set_dependencies(
        self,
        task: Task,
        upstream_tasks: Iterable[Any] | None = None,
        downstream_tasks: Iterable[Any] | None = None,
        keyword_tasks: dict[str, Any] | None = None,
        mapped: bool = False,
        validate: bool | None = None,
    ) -> None:
        """Add ``task`` with edges from ``upstream_tasks``/``keyword_tasks`` and to
        ``downstream_tasks``; with ``mapped=True`` the incoming edges are mapped unless
        wrapped in :class:`~headwater.unmapped`.
        """
        self.add_task(task)
        for t in upstream_tasks or ():
            is_mapped = mapped and not isinstance(t, unmapped)
            self.add_edge(t, task, mapped=is_mapped, validate=validate)
        for t in downstream_tasks or ():
            self.add_edge(task, t, validate=validate)
        for key, t in (keyword_tasks or {}).items():
            is_mapped = mapped and not isinstance(t, unmapped)
            self.add_edge(t, task, key=key, mapped=is_mapped, validate=validate)

    def chain(self, *tasks: Task) -> list[Edge]:
        """Add edges so that ``tasks`` run one after another."""
        edges = []
        for a, b in itertools.pairwise(tasks):
            edge = self.add_edge(a, b)
            if edge is not None:
                edges.append(edge)
        return edges

    def update(
        self, flow: Flow, merge_parameters: bool = False, validate: bool | None = None
    ) -> None:
        """Add every task, edge and constant of ``flow`` to this flow."""
        update_flow(self, flow)

    def copy(self) -> Flow:
        """A copy with its own task, edge and constant containers (tasks are shared)."""
        return copy_flow(self)

    def replace(self, old: Task, new: Any) -> None:
        """Put ``new`` in place of ``old``, keeping every edge and constant of ``old``.

        Raises:
            ValueError: when ``old`` is not in this flow.
        """
        replace_task(self, old, new)

    # ------------------------------------------------------------------ reading the graph

    def all_upstream_edges(self) -> dict[Task, set[Edge]]:
        """For every task, the edges into it."""
        return {t: set(e) for t, e in self._upstream.items()}

    def all_downstream_edges(self) -> dict[Task, set[Edge]]:
        """For every task, the edges out of it."""
        return {t: set(e) for t, e in self._downstream.items()}

    def edges_to(self, task: Task) -> set[Edge]:
        """Edges whose downstream end is ``task``."""
        return set(self._upstream.get(task, ()))

    def edges_from(self, task: Task) -> set[Edge]:
        """Edges whose upstream end is ``task``."""
        return set(self._downstream.get(task, ()))

    def upstream_tasks(self, task: Task) -> set[Task]:
        """Tasks with an edge into ``task``."""
        return {e.upstream_task for e in self._upstream.get(task, ())}

    def downstream_tasks(self, task: Task) -> set[Task]:
        """Tasks with an edge from ``task``."""
        return {e.downstream_task for e in self._downstream.get(task, ())}

    def root_tasks(self) -> set[Task]:
        """Tasks with no upstream edges."""
        return {t for t in self.tasks if not self._upstream[t]}

    def terminal_tasks(self) -> set[Task]:
        """Tasks with no downstream edges."""
        return {t for t in self.tasks if not self._downstream[t]}

    def reference_tasks(self) -> set[Task]:
        """Tasks whose states decide the flow's state (default: the terminal tasks).

        A terminal resource-cleanup task is looked through: the tasks that run right
        before it (the end of its block) count instead.
        """
        if self._reference_tasks:
            return set(self._reference_tasks)
        out: set[Task] = set()
        for t in self.terminal_tasks():
            if getattr(t, "_reference_passthrough", False):
                before = {e.upstream_task for e in self._upstream[t] if e.key is None}
                if before:
                    out |= before
                    continue
            out.add(t)
        return out

    def set_reference_tasks(self, tasks: Iterable[Task]) -> None:
        """Choose the tasks whose states decide the flow's state.

        Raises:
            ValueError: when a task is not in this flow.
        """
        tasks = set(tasks)
        missing = tasks - self.tasks
        if missing:
            names = ", ".join(sorted(t.name for t in missing))
            raise ValueError(f"Flow {self.name!r}: reference tasks not in the flow: {names}.")
        self._reference_tasks = tasks

    def parameters(self) -> set[Parameter]:
        """The flow's Parameter tasks."""
        return {t for t in self.tasks if isinstance(t, Parameter)}

    def get_tasks(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        task_type: type | None = None,
    ) -> list[Task]:
        """Tasks matching every given criterion (all tasks when none is given)."""
        wanted_tags = set(tags or ())
        return [
            t
            for t in self.slugs
            if (name is None or t.name == name)
            and (slug is None or t.slug == slug)
            and wanted_tags <= t.tags
            and (task_type is None or isinstance(t, task_type))
        ]

    def sorted_tasks(self, root_tasks: Iterable[Task] | None = None) -> tuple[Task, ...]:
        """Tasks in dependency order (upstream first); ties keep insertion order.

        Args:
            root_tasks: only these tasks and everything downstream of them.

        Raises:
            ValueError: when the graph has a cycle; the message names its tasks.
        """
        if self._sorted is None:
            self._sorted = topological_order(self)
        if root_tasks is None:
            return tuple(self._sorted)
        keep: set[Task] = set()
        stack = list(root_tasks)
        while stack:
            t = stack.pop()
            if t not in keep:
                keep.add(t)
                stack.extend(e.downstream_task for e in self._downstream.get(t, ()))
        return tuple(t for t in self._sorted if t in keep)

    def validate(self) -> None:
        """Check the graph: no cycles, edges and reference tasks inside the flow.

        Raises:
            ValueError: naming what is wrong.
        """
        self.sorted_tasks()
        for e in self.edges:
            if e.upstream_task not in self.tasks or e.downstream_task not in self.tasks:
                raise ValueError(f"Flow {self.name!r}: edge {e} joins a task outside the flow.")
        if self._reference_tasks - self.tasks:
            raise ValueError(f"Flow {self.name!r}: reference tasks must be in the flow.")

    # ------------------------------------------------------------------ description

    def serialize(self, build: bool = False) -> dict[str, Any]:
        """A JSON-able description of the flow (what the server stores).

        Args:
            build: accepted for compatibility; storage is built by ``register``.
        """
        return serialize_flow(self)

    def serialized_hash(self, build: bool = False) -> str:
        """A stable hash of :meth:`serialize`, e.g. as a registration idempotency key.

        Returns:
            The SHA-256 hex digest of the serialized flow (keys sorted).
        """
        data = json.dumps(self.serialize(build=build), sort_keys=True, default=repr)
        return hashlib.sha256(data.encode()).hexdigest()

    # ------------------------------------------------------------------ running

    def run(
        self,
        parameters: dict[str, Any] | None = None,
        executor: Any = None,
        context: dict[str, Any] | None = None,
        run_on_schedule: bool | None = None,
        runner_cls: type | None = None,
        **kwargs: Any,
    ) -> State | None:
        """Run the flow in this process and return its final state.

        Args:
            parameters: values for the flow's Parameters.
            executor: the executor (default: the flow's, else ``LocalExecutor``).
            context: values for ``headwater.context`` overriding the run defaults.
            run_on_schedule: with a schedule, run once at each scheduled time (waiting
                for it, with the clock's parameter defaults) until the schedule has no
                more times, which for most schedules is never; ``None`` reads the
                configuration ``flows.run_on_schedule`` (default true, as Prefect 1).
            runner_cls: the flow runner class (default ``FlowRunner``).
            **kwargs: keyword values for Parameters, or ``task_states``,
                ``return_tasks``, ``task_contexts`` for the runner.

        Returns:
            The final flow state; ``state.result`` maps each task to its state. None,
            without running, while the flow is being loaded from storage (the loading
            guard, see the module docstring).

        Raises:
            ValueError: for unknown parameter names or missing required parameters.
            TypeError: for unknown keyword arguments.
        """
        # deferred: documented upward import; running needs the engine above the graph.
        from headwater.engine.flow_runner import FlowRunner

        if _loading_guard(self, "run", "it is not run"):
            return None
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError(
                f"Flow {self.name!r}: parameters must be a dict, got {type(parameters).__name__}."
            )
        if context is not None and not isinstance(context, dict):
            raise TypeError(
                f"Flow {self.name!r}: context must be a dict, got {type(context).__name__}."
            )
        params = dict(parameters or {})
        # A private hook (not public API): stop a scheduled loop after this many runs.
        max_scheduled_runs: int | None = kwargs.pop("_max_scheduled_runs", None)
        param_names = {p.name for p in self.parameters()}
        runner_kwargs: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in param_names:
                params[key] = value
            elif key in _RUNNER_KWARGS:
                runner_kwargs[key] = value
            else:
                raise TypeError(
                    f"Flow.run() got an unexpected keyword argument {key!r} (flow"
                    f" {self.name!r} has no parameter of that name)."
                )
        self.check_parameters(params)
        if runner_cls is None:
            runner_cls = configured_class("engine.flow_runner", FlowRunner)
        runner = runner_cls(self)
        exec_ = executor if executor is not None else self.executor
        if run_on_schedule is None and self.schedule is not None:
            run_on_schedule = bool((config.get("flows") or {}).get("run_on_schedule", True))
        if run_on_schedule and self.schedule is not None:
            return _scheduled(
                self, runner, params, exec_, context, runner_kwargs, max_scheduled_runs
            )
        return runner.run(  # type: ignore[no-any-return]
            parameters=params, executor=exec_, context=context, **runner_kwargs
        )

    def check_parameters(self, params: dict[str, Any]) -> None:
        """Check parameter values against the flow's Parameters.

        Raises:
            ValueError: naming unknown parameters or missing required ones.
        """
        declared = {p.name: p for p in self.parameters()}
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise ValueError(
                f"Flow {self.name!r} received unexpected parameters: {', '.join(unknown)}"
                f" (its parameters: {', '.join(sorted(declared)) or 'none'})."
            )
        missing = sorted(n for n, p in declared.items() if p.required and n not in params)
        if missing:
            raise ValueError(
                f"Flow {self.name!r} did not receive the required parameters: {', '.join(missing)}."
            )

    def save(self, fpath: str | None = None) -> str:
        """Write this flow to a file with cloudpickle.

        Args:
            fpath: the file; default ``$HEADWATER_HOME/flows/<name>.headwater``.

        Returns:
            The path written.
        """
        return save_flow(self, fpath)

    @classmethod
    def load(cls, fpath: str) -> Flow:
        """Read a flow written by :meth:`save`.

        Raises:
            FileNotFoundError: when there is no such file.
            TypeError: when the file holds something else than a flow.
        """
        return load_flow(fpath, cls)

    def register(
        self,
        project_name: str | None = None,
        build: bool = True,
        labels: list[str] | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        """Register this flow with the server through :class:`headwater.client.Client`.

        Returns:
            The id of the registered flow version; None, without registering, while the
            flow is being loaded from storage (the loading guard).
        """
        # deferred: documented upward import; registering needs the client above the graph.
        from headwater.client import Client

        if _loading_guard(self, "register", "it is not registered again"):
            return None
        return Client().register(  # type: ignore[no-any-return]
            self,
            project_name=project_name,
            build=build,
            labels=labels,
            idempotency_key=idempotency_key,
            **kwargs,
        )
