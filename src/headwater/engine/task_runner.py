"""The TaskRunner: runs one task (or one mapped child) and returns its state.

Contract (docs/internals/contracts.md, section 5):
    ``TaskRunner(task, state_handlers=None, flow_result=None).run(state=None,
    upstream_states=None, context=None, is_mapped_parent=False, constants=None)``.
    ``upstream_states`` maps each incoming :class:`Edge` to the upstream state (already
    the per-child state for a mapped child); ``constants`` are plain keyword inputs.

    The run, in order: :meth:`initialize_run` (once; the backend creates its task run
    there), then checks that may end it early (upstream unfinished -> state unchanged;
    upstream skipped -> ``Skipped``; trigger -> ``TriggerFailed`` or the trigger's signal;
    a scheduled start in the future -> state unchanged; already finished -> unchanged),
    then ``Running``, the call of ``task.run(**inputs)`` (with timeout and stdout capture
    when asked), checkpointing, and the retry decision. Every state change goes through
    :meth:`handle_state_change`. With ``is_mapped_parent=True`` the run stops after the
    checks with ``Mapped("Ready to proceed with mapping.", n_map_states=n)`` or a
    ``Failed`` naming the input that cannot be mapped over.

    A raised exception gives ``Failed("Error during execution of task: <repr>")`` with the
    exception as result; signals give their state. ``LOOP`` re-runs the task in place with
    ``task_loop_count``/``task_loop_result`` in the context.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from headwater.core.edge import Edge
from headwater.core.task import Task
from headwater.engine import signals
from headwater.engine._result_base import Result, format_location
from headwater.engine.cache_validators import add_cached_state, cached_states, duration_only
from headwater.engine.runner import ENDRUN, Runner
from headwater.engine.state import (
    Cached,
    Failed,
    Looped,
    Mapped,
    Pending,
    Resume,
    Retrying,
    Running,
    Skipped,
    State,
    Success,
    TimedOut,
    TriggerFailed,
)
from headwater.exceptions import TaskTimeoutError
from headwater.utilities.context import context as _context
from headwater.utilities.logging import get_logger, redirect_stdout_to_logger

__all__ = ["TaskRunner", "mappable_values"]

_SKIP_MESSAGE = (
    "Upstream task was skipped; if this was not the intended behavior, consider changing"
    " `skip_on_upstream_skip=False` for this task."
)


_LOGGER: list[logging.Logger] = []


def _runner_logger() -> logging.Logger:
    if not _LOGGER:
        _LOGGER.append(get_logger("TaskRunner"))
    return _LOGGER[0]


def mappable_values(task: Task, key: str | None, value: Any) -> list[Any] | Any:
    """Return ``value`` as something a mapped task can index, or raise ``ValueError``.

    Sequences are used as they are; other iterables (sets, generators) become lists.
    Strings, bytes and mappings are refused as almost always unintended.
    """
    what = f"input {key!r}" if key else "an upstream result"
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise ValueError(
            f"Task {task.name!r} cannot map over {what}: a {type(value).__name__} is not a"
            " list or other sequence."
        )
    if hasattr(value, "__getitem__") and hasattr(value, "__len__"):
        return value
    return list(value)


def _flatten(task: Task, key: str | None, value: Any) -> list[Any]:
    out: list[Any] = []
    for item in mappable_values(task, key, value):
        out.extend(mappable_values(task, key, item))
    return out


def _expand_mapped(upstream: Mapping[Edge, State]) -> dict[Any, State]:
    """Trigger input where a reduced Mapped parent counts as its children (Prefect 1).

    A child appears under the key ``(edge, map_index)``; other states keep their edge.
    """
    out: dict[Any, State] = {}
    for edge, up in upstream.items():
        if isinstance(up, Mapped) and up.map_states and not edge.mapped:
            for i, child in enumerate(up.map_states):
                out[(edge, i)] = child
        else:
            out[edge] = up
    return out


class _TimeoutCall:
    """Run a call in a daemon thread carrying the current context; wait at most N s."""

    def __init__(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.fn = fn
        self.kwargs = kwargs
        self.value: Any = None
        self.error: BaseException | None = None

    def _target(self) -> None:
        try:
            self.value = self.fn(**self.kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            self.error = exc

    def __call__(self, timeout: float) -> Any:
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(self._target,), daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            # The thread cannot be stopped safely; it is left to finish and its result
            # is ignored.

            raise TaskTimeoutError(f"Task timed out after {timeout} seconds.")
        if self.error is not None:
            raise self.error
        return self.value


class TaskRunner(Runner):
    """Runs a task once (plus in-place loops) and returns its state.

    Args:
        task: the task to run.
        state_handlers: runner-level handlers ``fn(runner, old_state, new_state)``.
        flow_result: the flow's default Result, used for checkpointing when the task
            has none of its own.
    """

    def __init__(
        self,
        task: Task,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
        flow_result: Any = None,
    ) -> None:
        self.task = task
        self.flow_result = flow_result
        self.state_handlers = list(state_handlers) if state_handlers else []

    def __repr__(self) -> str:
        return f"<TaskRunner: {self.task.name}>"

    def _target(self) -> Any:
        return self.task

    def _target_handlers(self) -> list[Callable[..., Any]]:
        return self.task.state_handlers

    # ------------------------------------------------------------------ hooks

    def initialize_run(self, state: State | None, context: dict[str, Any]) -> Any:
        """Prepare a run: fix the run count and loop values in ``context``.

        Args:
            state: the state the run starts from.
            context: the run's context values (updated in place).

        Returns:
            ``(state, context)``.
        """
        if isinstance(state, Retrying):
            context["task_run_count"] = (state.run_count or 0) + 1
        else:
            context.setdefault("task_run_count", 1)
        if isinstance(state, Looped):
            context["task_loop_count"] = (state.loop_count or 0) + 1
            context["task_loop_result"] = state.result
        if isinstance(state, Resume):
            context["resume"] = True  # lets manual_only pass for this run
        return state, context

    # ------------------------------------------------------------------ the run

    def run(
        self,
        state: State | None = None,
        upstream_states: Mapping[Edge, State] | None = None,
        context: Mapping[str, Any] | None = None,
        is_mapped_parent: bool = False,
        constants: Mapping[str, Any] | None = None,
    ) -> State:
        """Run the task and return its new state.

        Args:
            state: the state to start from (default ``Pending``).
            upstream_states: the state of each incoming edge's upstream task.
            context: values for ``headwater.context`` during the run.
            is_mapped_parent: only decide whether (and how wide) to map.
            constants: plain keyword inputs bound in the flow.

        Returns:
            The task's state.
        """
        task = self.task
        upstream = upstream_states or {}
        ctx: dict[str, Any] = dict(context) if context else {}
        ctx.setdefault("task_name", task.name)
        ctx.setdefault("task_slug", task.slug)
        ctx.setdefault("task_tags", task.tags)
        ctx.setdefault("map_index", None)
        if "task_full_name" not in ctx:
            index = ctx["map_index"]
            ctx["task_full_name"] = task.name if index is None else f"{task.name}[{index}]"
        if state is None:
            state = Pending()
        state, ctx = self.initialize_run(state, ctx)
        logger = _runner_logger()
        log_info = logger.isEnabledFor(logging.INFO)
        if log_info:
            logger.info("Task '%s': Starting task run...", ctx["task_full_name"])
        with _context(ctx):
            try:
                if state.is_finished() and not isinstance(state, Looped):
                    raise ENDRUN(state)
                self._check_upstream(state, upstream, is_mapped_parent)
                if is_mapped_parent:
                    state = self._ready_to_map(state, upstream)
                    raise ENDRUN(state)
                state = self._check_trigger(state, upstream)
                self._check_start_time(state)
                inputs = self._inputs(upstream, constants)
                if task.cache_for is not None or task.target is not None:
                    cached = self._check_cached(inputs)
                    if cached is not None:
                        raise ENDRUN(cached)
                state = self._run_with_loops(state, inputs, ctx)
            except ENDRUN as exc:
                if exc.state is not state:
                    state = self.handle_state_change(state, exc.state)
                else:
                    state = exc.state
            except Exception as exc:
                if _context.get("raise_on_exception"):
                    raise
                # An error of the engine itself (not of the task's code, which _call
                # catches) still ends this task run, not the whole flow run.
                failed = Failed(
                    f"Unexpected error while running task {task.name!r}: {exc!r}", result=exc
                )
                try:
                    state = self.handle_state_change(state, failed)
                except Exception:
                    state = failed
        if log_info:
            logger.info(
                "Task '%s': Finished task run for task with final state: '%s'",
                ctx["task_full_name"],
                type(state).__name__,
            )
        return state

    def _check_upstream(
        self, state: State, upstream: Mapping[Edge, State], is_mapped_parent: bool
    ) -> None:
        if not upstream:
            return
        skipped = False
        for edge, up in upstream.items():
            if isinstance(up, Mapped):
                if edge.mapped:
                    continue  # each mapped child checks its own upstream child
                for child in up.map_states:
                    if not child.is_finished():
                        raise ENDRUN(state)
                    skipped = skipped or child.is_skipped()
                skipped = skipped or up.is_skipped()
            else:
                if not up.is_finished():
                    raise ENDRUN(state)
                skipped = skipped or up.is_skipped()
        if skipped and self.task.skip_on_upstream_skip:
            raise ENDRUN(Skipped(_SKIP_MESSAGE, result=None))

    def _ready_to_map(self, state: State, upstream: Mapping[Edge, State]) -> State:
        if any(
            e.mapped and not isinstance(up, Mapped) and not up.is_successful()
            for e, up in upstream.items()
        ):
            # Nothing to map over came through: the trigger decides how this ends
            # (TriggerFailed for the default), as it would for an unmapped task.
            self._check_trigger(state, upstream)
        sizes: list[int] = []
        for edge, up in upstream.items():
            if not edge.mapped:
                continue
            if isinstance(up, Mapped) and not edge.flattened:
                sizes.append(up.n_map_states)
                continue
            if not up.is_successful():
                continue
            try:
                if edge.flattened:
                    values = _flatten(self.task, edge.key, up.result)
                else:
                    values = mappable_values(self.task, edge.key, up.result)
            except ValueError as exc:
                raise ENDRUN(Failed(str(exc), result=exc)) from None
            sizes.append(len(values))
        if upstream and not sizes and any(e.mapped for e in upstream):
            raise ENDRUN(Failed(f"Task {self.task.name!r}: no upstream result can be mapped over."))
        new = Mapped("Ready to proceed with mapping.", n_map_states=min(sizes, default=0))
        return self.handle_state_change(state, new)

    def _check_trigger(self, state: State, upstream: Mapping[Edge, State]) -> State:
        task = self.task
        if any(isinstance(up, Mapped) and up.map_states for up in upstream.values()):
            upstream = _expand_mapped(upstream)
        try:
            ok = task.trigger(upstream)
        except signals.HeadwaterStateSignal as sig:
            raise ENDRUN(sig.state) from None
        except Exception as exc:
            raise ENDRUN(
                TriggerFailed(f"Unexpected error while checking task trigger: {exc!r}", result=exc)
            ) from None
        if not ok:
            raise ENDRUN(TriggerFailed(f'Trigger was "{ok}" for task {task.name!r}.'))
        return state

    def _check_start_time(self, state: State) -> None:
        start = getattr(state, "start_time", None)
        if start is not None and state.is_scheduled() and start > datetime.now(UTC):
            raise ENDRUN(state)

    def _inputs(
        self, upstream: Mapping[Edge, State], constants: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        inputs: dict[str, Any] = dict(constants) if constants else {}
        for edge, up in upstream.items():
            key = edge.key
            if key is None:
                continue
            value = up.result
            if edge.flattened and not edge.mapped:
                value = _flatten(self.task, key, value)
            inputs[key] = value
        return inputs

    # ------------------------------------------------------------------ running

    def _run_with_loops(self, state: State, inputs: dict[str, Any], ctx: dict[str, Any]) -> State:
        while True:
            state = self.handle_state_change(state, Running("Starting task run."))
            if not state.is_running():
                return state
            state = self.handle_state_change(state, self._call(inputs, ctx))
            if isinstance(state, Looped):
                count = state.loop_count or ctx.get("task_loop_count", 1)
                ctx["task_loop_count"] = count + 1
                ctx["task_loop_result"] = state.result
                _context.update(task_loop_count=count + 1, task_loop_result=state.result)
                continue
            return self._check_for_retry(state, ctx)

    def _call(self, inputs: dict[str, Any], ctx: dict[str, Any]) -> State:
        task = self.task
        try:
            if task.log_stdout:
                with redirect_stdout_to_logger(ctx.get("logger")):
                    value = self._invoke(inputs)
            else:
                value = self._invoke(inputs)
        except signals.LOOP as sig:
            new = sig.state
            if isinstance(new, Looped) and new.loop_count is None:
                new.loop_count = ctx.get("task_loop_count", 1)
            return new
        except signals.RETRY as sig:
            new = sig.state
            if isinstance(new, Retrying) and new.run_count is None:
                new.run_count = ctx.get("task_run_count", 1)
            return new
        except signals.HeadwaterStateSignal as sig:
            return sig.state
        except Exception as exc:
            if ctx.get("raise_on_exception") or _context.get("raise_on_exception"):
                raise  # headwater.utilities.debug.raise_on_exception: surface it to the caller
            if isinstance(exc, TaskTimeoutError):
                return TimedOut("Task timed out during execution.", result=exc)
            logger = ctx.get("logger")
            if logger is not None:
                logger.error(
                    "Task '%s': exception raised during execution",
                    ctx.get("task_full_name", task.name),
                    exc_info=True,
                )
            return Failed(f"Error during execution of task: {exc!r}", result=exc)
        return self._success(value, ctx, inputs)

    def _invoke(self, inputs: dict[str, Any]) -> Any:
        task = self.task
        if task.timeout is None:
            return task.run(**inputs)
        return _TimeoutCall(task.run, inputs)(task.timeout)

    def _success(self, value: Any, ctx: dict[str, Any], inputs: dict[str, Any]) -> State:
        state: State = Success("Task run succeeded.", result=value)
        task = self.task
        if _context.get("checkpointing") and task.checkpoint is not False:
            result = task.result if task.result is not None else self.flow_result
            if result is not None:
                try:
                    if task.target is not None:
                        result = result.copy()
                        result.location = self._target_template()
                    # Templates may name parameters and the task's own inputs too.
                    values = dict(_context.get("parameters") or {})
                    values.update(ctx)
                    values.update(inputs)
                    state._result = result.write(value, **values)
                except Exception as exc:
                    return Failed(
                        f"Task {task.name!r}: could not write its result: {exc!r}", result=exc
                    )
        if task.cache_for is not None:
            state = self._cache(state, inputs)
        return state

    # ------------------------------------------------------------------ caching

    def _target_template(self) -> str:
        target = self.task.target
        if callable(target):
            return str(target(**_context.to_dict()))
        return str(target)

    def _check_cached(self, inputs: dict[str, Any]) -> State | None:
        """A ``Cached`` state standing in for this run, or ``None`` to run the task."""
        task = self.task
        if task.target is not None:
            result = task.result if task.result is not None else self.flow_result
            if result is not None:
                location = format_location(self._target_template())
                if result.exists(location):
                    return Cached(
                        f"Result found at task target {location}", result=result.read(location)
                    )
        if task.cache_for is not None:
            validator = task.cache_validator or duration_only
            parameters = dict(_context.get("parameters") or {})
            for candidate in cached_states(task.cache_key or task.name):
                if validator(candidate, inputs, parameters):
                    return candidate
        return None

    def _cache(self, state: State, inputs: dict[str, Any]) -> State:

        task = self.task
        assert task.cache_for is not None
        cached = Cached(
            "Task run succeeded.",
            result=state._result,
            cached_inputs={k: Result(value=v) for k, v in inputs.items()},
            cached_parameters=dict(_context.get("parameters") or {}),
            cached_result_expiration=datetime.now(UTC) + task.cache_for,
        )
        add_cached_state(task.cache_key or task.name, cached)
        return cached

    def _check_for_retry(self, state: State, ctx: dict[str, Any]) -> State:
        task = self.task
        if not state.is_failed() or not task.max_retries:
            return state
        run_count = ctx.get("task_run_count", 1)
        if run_count > task.max_retries:
            return state
        if task.retry_on is not None:
            error = state.result
            if not isinstance(error, tuple(task.retry_on)):
                return state
        delay = task.retry_delay
        start = datetime.now(UTC) + delay if delay is not None else datetime.now(UTC)
        retry = Retrying(
            f"Retrying Task (after attempt {run_count} of {task.max_retries + 1})",
            result=state._result,
            start_time=start,
            run_count=run_count,
        )
        return self.handle_state_change(state, retry)
