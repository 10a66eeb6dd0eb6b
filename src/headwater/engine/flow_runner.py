"""The FlowRunner: runs every task of a flow on an executor and returns the flow's state.

Contract (docs/internals/contracts.md, section 5):
    ``FlowRunner(flow, task_runner_cls=TaskRunner, state_handlers=None).run(state=None,
    task_states=None, return_tasks=None, parameters=None, executor=None, context=None,
    task_contexts=None) -> State``.

    The flow goes ``Pending -> Running("Running flow.")`` and ends ``Success("All
    reference tasks succeeded.")`` or ``Failed("Some reference tasks failed.")`` (mapped
    reference tasks count through their children); ``state.result`` maps each task of
    ``return_tasks`` (default: all) to its final state. While tasks are ``Retrying`` the
    runner waits until the earliest retry time and runs another pass over the unfinished
    tasks, in this process. Tasks left unfinished (for example ``Paused``) leave the flow
    ``Running``.

    Tasks are visited once per pass in topological order. Each task run is handed to the
    executor with its upstream futures; the executor resolves them and carries the run
    context. A mapped task is decided in the runner's thread (the upstream states are
    waited for), then one child run per element is submitted, and the parent's final
    ``Mapped`` state holds the children in ``map_states`` and their results as a list.

    Context values every task sees: flow_name, flow_run_id, flow_run_name,
    scheduled_start_time, parameters, running_with_backend, checkpointing, date and
    today/yesterday/tomorrow (and ``_nodash`` forms), plus task_name, task_slug,
    task_full_name, task_tags, task_run_id (stable across retries), map_index,
    task_run_count and logger. ``context=`` values override the defaults.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from headwater.core.edge import Edge
from headwater.core.flow import Flow
from headwater.core.task import Task
from headwater.engine.runner import ENDRUN, Runner
from headwater.engine.state import Failed, Mapped, Pending, Retrying, Running, State, Success
from headwater.engine.task_runner import TaskRunner, _flatten, mappable_values
from headwater.executors.local import LocalExecutor
from headwater.utilities.configuration import config, configured_class
from headwater.utilities.context import context as _context
from headwater.utilities.logging import get_logger

__all__ = ["FlowRunner"]


def run_task(
    runner: TaskRunner,
    state: State | None,
    upstream_states: dict[Edge, State],
    context: dict[str, Any],
    is_mapped_parent: bool = False,
    constants: dict[str, Any] | None = None,
) -> State:
    """Run one task run (the function the executor calls)."""
    return runner.run(
        state=state,
        upstream_states=upstream_states,
        context=context,
        is_mapped_parent=is_mapped_parent,
        constants=constants,
    )


def assemble_mapped(parent: State, children: list[State]) -> State:
    """Build a mapped parent's final state from its children's states."""
    return Mapped(
        parent.message or "Mapped tasks submitted.",
        result=[c.result for c in children],
        map_states=list(children),
    )


# Prefect 1's wording of the final log line, which people grep run output for.
_FINAL_LINES = {
    "All reference tasks succeeded.": "Flow run SUCCESS: all reference tasks succeeded",
    "Some reference tasks failed.": "Flow run FAILED: some reference tasks failed.",
    "No reference tasks failed.": "Flow run SUCCESS: no reference tasks failed",
    "Not all terminal tasks have finished.": "Flow run RUNNING: terminal tasks are incomplete.",
}


def _logger() -> Any:
    return get_logger("FlowRunner")


def _date_context(now: datetime) -> dict[str, Any]:
    one = timedelta(days=1)
    values: dict[str, Any] = {"date": now}
    for name, day in (("today", now), ("yesterday", now - one), ("tomorrow", now + one)):
        values[name] = day.strftime("%Y-%m-%d")
        values[f"{name}_nodash"] = day.strftime("%Y%m%d")
    return values


def _all_states(state: State) -> list[State]:
    if isinstance(state, Mapped) and state.map_states:
        return [state, *state.map_states]
    return [state]


class FlowRunner(Runner):
    """Runs a flow.

    Args:
        flow: the flow to run.
        task_runner_cls: the class that runs each task (the backend passes its own).
        state_handlers: runner-level handlers ``fn(runner, old_state, new_state)``.
    """

    def __init__(
        self,
        flow: Flow,
        task_runner_cls: type[TaskRunner] | None = None,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(state_handlers)
        self.flow = flow
        self.task_runner_cls: type[TaskRunner] = task_runner_cls or TaskRunner
        self._task_run_ids: dict[tuple[Task, int | None], str] = {}
        self._task_runner_handlers: list[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return f"<FlowRunner: {self.flow.name}>"

    def _target(self) -> Any:
        return self.flow

    def _target_handlers(self) -> list[Callable[..., Any]]:
        return self.flow.state_handlers

    # ------------------------------------------------------------------ context

    def initialize_run(
        self,
        state: State | None,
        parameters: dict[str, Any] | None,
        context: dict[str, Any] | None,
    ) -> tuple[State, dict[str, Any]]:
        """Build the flow run's context (defaults, then configuration, then ``context``)."""
        now = datetime.now(UTC)
        ctx: dict[str, Any] = _date_context(now)
        configured = config.get("context")
        if isinstance(configured, dict):
            ctx.update(configured)
        ctx.update(
            flow_name=self.flow.name,
            scheduled_start_time=now,
            running_with_backend=False,
            checkpointing=bool(config.get("flows", {}).get("checkpointing", False)),
        )
        ctx.update(context or {})
        ctx.setdefault("flow_run_id", str(uuid.uuid4()))
        if not ctx.get("flow_run_name"):
            ctx["flow_run_name"] = str(uuid.uuid4())
        # Defaults first, so that tasks reading context.parameters see every value.
        params = {p.name: p.default for p in self.flow.parameters() if p.default is not None}
        params.update(ctx.get("parameters") or {})
        params.update(parameters or {})
        ctx["parameters"] = params
        return (state if state is not None else Pending()), ctx

    def _task_run_id(self, task: Task, map_index: int | None) -> str:
        key = (task, map_index)
        found = self._task_run_ids.get(key)
        if found is None:
            found = self._task_run_ids[key] = str(uuid.uuid4())
        return found

    def _prepare_mapped_children(
        self,
        task: Task,
        count: int,
        per_edge: dict[Edge, list[State]],
        constants: dict[str, Any] | None,
    ) -> None:
        """Hook: a mapped task is about to run ``count`` children, child ``i`` seeing
        ``per_edge[edge][i]`` upstream (the backend creates their task runs here in one
        go, and lets a task prepare its children's work in bulk)."""

    # ------------------------------------------------------------------ the run

    def run(
        self,
        state: State | None = None,
        task_states: dict[Task, State] | None = None,
        return_tasks: Iterable[Task] | None = None,
        parameters: dict[str, Any] | None = None,
        executor: Any = None,
        context: dict[str, Any] | None = None,
        task_contexts: dict[Task, dict[str, Any]] | None = None,
        task_runner_state_handlers: Iterable[Callable[..., Any]] | None = None,
    ) -> State:
        """Run the flow and return its final state.

        Args:
            state: the flow state to start from (default ``Pending``).
            task_states: known task states (finished tasks are not run again).
            return_tasks: tasks whose states go into the result (default: all).
            parameters: parameter values.
            executor: the executor (default: the flow's, else ``LocalExecutor``).
            context: context values overriding the defaults.
            task_contexts: extra context values per task.
            task_runner_state_handlers: runner-level handlers for every task runner
                (``fn(task_runner, old_state, new_state)``).

        Returns:
            The flow's final state.
        """
        self.flow.sorted_tasks()  # a cycle is a ValueError before the run starts
        state, ctx = self.initialize_run(state, parameters, context)
        self._task_runner_handlers = list(task_runner_state_handlers or [])
        if executor is None:
            executor = self.flow.executor
        if executor is None:
            executor = configured_class("engine.executor", LocalExecutor)()
        elif not (hasattr(executor, "submit") and hasattr(executor, "wait")):
            raise TypeError(
                f"Flow {self.flow.name!r}: executor must be an Executor (with submit/wait),"
                f" got {executor!r}."
            )
        returned = set(self.flow.tasks if return_tasks is None else return_tasks)
        with _context(ctx):
            if state.is_finished():
                return state
            try:
                if not state.is_running():
                    state = self.handle_state_change(state, Running("Running flow."))
                    if not state.is_running():
                        return state
            except ENDRUN as exc:
                return exc.state
            logger = _logger()
            logger.info("Beginning Flow run for '%s'", self.flow.name)
            states: dict[Task, State] = dict(task_states or {})
            try:
                with executor.start():
                    while True:
                        states = self._run_pass(states, executor, ctx, task_contexts or {})
                        wake = self._next_retry_time(states)
                        if wake is None:
                            break
                        delay = (wake - datetime.now(UTC)).total_seconds()
                        if delay > 0:
                            time.sleep(delay)
                final = self._final_state(states, returned)
            except Exception as exc:
                if _context.get("raise_on_exception"):
                    raise
                # The executor (or the engine) broke down: the run ends Failed instead of
                # being left Running.
                logger.error(
                    "Unexpected error while running flow %r", self.flow.name, exc_info=True
                )
                final = Failed(f"Unexpected error while running flow: {exc!r}", result=exc)
            line = _FINAL_LINES.get(final.message or "")
            if line is None:
                line = f"Flow run {type(final).__name__.upper()}: {final.message}"
            logger.info(line)
            return self.handle_state_change(state, final)

    def _next_retry_time(self, states: dict[Task, State]) -> datetime | None:
        wake: datetime | None = None
        for s in states.values():
            for one in _all_states(s):
                if isinstance(one, Retrying):
                    start = one.start_time or datetime.now(UTC)
                    wake = start if wake is None or start < wake else wake
        return wake

    def _final_state(self, states: dict[Task, State], returned: set[Task]) -> State:
        flow = self.flow
        result = {t: s for t, s in states.items() if t in returned}
        terminal = [states.get(t) for t in flow.terminal_tasks()]
        if any(s is None or not all(x.is_finished() for x in _all_states(s)) for s in terminal):
            return Running("Not all terminal tasks have finished.", result=result)
        key_states = [x for t in flow.reference_tasks() for x in _all_states(states[t])]
        final: State
        if any(s.is_failed() for s in key_states):
            final = Failed("Some reference tasks failed.", result=result)
        elif all(s.is_successful() for s in key_states):
            final = Success("All reference tasks succeeded.", result=result)
        else:
            final = Success("No reference tasks failed.", result=result)
        handler = getattr(flow, "terminal_state_handler", None)
        if handler is not None:
            replaced = handler(flow, final, set(key_states))
            if replaced is not None:
                if replaced.result is None:
                    replaced.result = result  # keep the task states reachable
                final = replaced
        return final

    def _task_context(
        self, task: Task, base: dict[str, Any] | None, map_index: int | None
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "task_name": task.name,
            "task_slug": task.slug,
            "task_full_name": task.name if map_index is None else f"{task.name}[{map_index}]",
            "task_tags": task.tags,
            "map_index": map_index,
            "task_run_id": self._task_run_id(task, map_index),
            "logger": get_logger(task.name),
        }
        if base:
            ctx.update(base)
        return ctx

    def _run_pass(
        self,
        previous: dict[Task, State],
        executor: Any,
        flow_ctx: dict[str, Any],
        task_contexts: dict[Task, dict[str, Any]],
    ) -> dict[Task, State]:
        flow = self.flow
        futures: dict[Task, Any] = {}
        flow_result = flow.result
        runner_cls = self.task_runner_cls
        handlers = self._task_runner_handlers
        constants = flow.constants
        for task in flow.sorted_tasks():
            prior = previous.get(task)
            if prior is not None and prior.is_finished() and not _unfinished_children(prior):
                futures[task] = prior
                continue
            edges = flow._upstream[task]
            upstream = {e: futures[e.upstream_task] for e in edges}
            task_ctx = self._task_context(task, task_contexts.get(task), None)
            consts = constants.get(task) or None
            if any(e.mapped for e in edges):
                futures[task] = self._run_mapped(
                    task, prior, upstream, executor, task_ctx, consts, flow_result
                )
                continue
            runner = runner_cls(task, state_handlers=handlers, flow_result=flow_result)
            futures[task] = executor.submit(
                run_task,
                runner,
                prior,
                upstream,
                task_ctx,
                False,
                consts,
                extra_context={
                    "task_name": task.name,
                    "task_slug": task.slug,
                    "task_full_name": task.name,
                    "map_index": None,
                },
            )
        resolved: dict[Task, State] = executor.wait(futures)
        return resolved

    def _run_mapped(
        self,
        task: Task,
        prior: State | None,
        upstream_futures: dict[Edge, Any],
        executor: Any,
        task_ctx: dict[str, Any],
        consts: dict[str, Any] | None,
        flow_result: Any,
    ) -> Any:
        upstream: dict[Edge, State] = executor.wait(upstream_futures)
        runner_cls = self.task_runner_cls
        handlers = self._task_runner_handlers
        if isinstance(prior, Mapped):
            parent: State = prior
        else:
            runner = runner_cls(task, state_handlers=handlers, flow_result=flow_result)
            parent = runner.run(
                state=prior,
                upstream_states=upstream,
                context=task_ctx,
                is_mapped_parent=True,
                constants=consts,
            )
        if not isinstance(parent, Mapped):
            return parent
        n = parent.n_map_states
        try:
            per_edge = self._child_upstreams(task, upstream, n)
        except ValueError as exc:  # a mapped input changed shape between passes
            return Failed(str(exc), result=exc)
        self._prepare_mapped_children(task, n, per_edge, consts)
        prior_children = parent.map_states if isinstance(prior, Mapped) else []
        base = {k: v for k, v in task_ctx.items() if k not in ("map_index", "task_full_name")}
        children: list[Any] = []
        name = task.name
        for i in range(n):
            child_prior = prior_children[i] if i < len(prior_children) else None
            if child_prior is not None and child_prior.is_finished():
                children.append(child_prior)
                continue
            child_up = {e: states[i] for e, states in per_edge.items()}
            child_ctx = dict(base)
            child_ctx["map_index"] = i
            child_ctx["task_full_name"] = f"{name}[{i}]"
            child_ctx["task_run_id"] = self._task_run_id(task, i)
            runner = runner_cls(task, state_handlers=handlers, flow_result=flow_result)
            children.append(
                executor.submit(
                    run_task,
                    runner,
                    child_prior,
                    child_up,
                    child_ctx,
                    False,
                    consts,
                    extra_context={
                        "task_name": name,
                        "task_slug": task.slug,
                        "task_full_name": child_ctx["task_full_name"],
                        "map_index": i,
                    },
                )
            )
        return executor.submit(assemble_mapped, parent, children)

    def _child_upstreams(
        self, task: Task, upstream: dict[Edge, State], n: int
    ) -> dict[Edge, list[State]]:
        """The upstream state each child ``i`` sees, per edge."""
        out: dict[Edge, list[State]] = {}
        for edge, up in upstream.items():
            if not edge.mapped:
                if edge.flattened and up.is_successful():
                    flat = Success(up.message, result=_flatten(task, edge.key, up.result))
                    out[edge] = [flat] * n
                else:
                    out[edge] = [up] * n
            elif isinstance(up, Mapped) and not edge.flattened:
                out[edge] = list(up.map_states[:n])
            elif not up.is_successful():
                out[edge] = [up] * n
            else:
                if edge.flattened:
                    values = _flatten(task, edge.key, up.result)
                else:
                    values = mappable_values(task, edge.key, up.result)
                message = up.message
                out[edge] = [Success(message, result=values[i]) for i in range(n)]
        return out


def _unfinished_children(state: State) -> bool:
    return isinstance(state, Mapped) and any(not c.is_finished() for c in state.map_states)
