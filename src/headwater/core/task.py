"""The Task: one unit of work in a flow.

Contract:
    Subclass :class:`Task` and implement ``run()``; the keyword arguments of ``run()`` are
    the task's inputs and its return value is its result. Calling a task inside a
    ``with Flow(...)`` block does not run it: it returns a *copy* bound into the active
    flow with an edge per argument (Prefect 1 semantics). ``task.map(...)`` does the same
    with mapped edges. ``task.run(...)`` calls the work directly, outside any flow.

    Options are validated when set: ``max_retries > 0`` needs a ``retry_delay``;
    ``timeout`` is positive seconds (an int/float or a ``timedelta``). Tasks hash by
    identity, and must stay picklable with cloudpickle so that any executor can ship them.
"""

from __future__ import annotations

import copy as _copy
import datetime
import inspect
import logging
import typing
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from headwater.core import _triggers
from headwater.core._active import ACTIVE_FLOW, ACTIVE_TAGS
from headwater.utilities.logging import get_logger

if TYPE_CHECKING:
    from headwater.core.flow import Flow

__all__ = ["Task"]

# Keyword names that ``__call__``/``bind``/``map`` consume, so ``run()`` cannot use them.
RESERVED_INPUTS = frozenset({"upstream_tasks", "mapped", "task_args", "flow"})


def _check_run_signature(run: Callable[..., Any], owner: str) -> None:
    """Reject ``run()`` signatures the graph cannot bind (reserved names, ``*args``)."""
    try:
        params = inspect.signature(run).parameters
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return
    for p in params.values():
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            raise ValueError(
                f"Task {owner!r}: run() may not take variable positional arguments (*{p.name}),"
                " because every input is passed by keyword."
            )
        if p.name in RESERVED_INPUTS:
            raise ValueError(
                f"Task {owner!r}: run() may not use the reserved argument name {p.name!r}"
                f" (reserved: {', '.join(sorted(RESERVED_INPUTS))})."
            )


def _default_trigger() -> Callable[..., bool]:
    return _triggers.all_successful


def _to_timeout(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"Task {name!r}: timeout must be seconds (int or float) or a timedelta, got {value!r}."
        )
    if value <= 0:
        raise ValueError(f"Task {name!r}: timeout must be positive, got {value!r}.")
    return int(value) if float(value).is_integer() else float(value)


class Task:
    """A unit of work; subclass it and implement :meth:`run`.

    Args:
        name: display name; defaults to the class name.
        slug: explicit slug, unique within a flow; by default the flow assigns one.
        tags: labels for the task.
        max_retries: how many times a failed run is retried (default 0).
        retry_delay: the wait before each retry; required when ``max_retries > 0``.
        retry_on: exception type(s) that allow a retry; by default every failure does.
        timeout: seconds (or a timedelta) after which the run ends ``TimedOut``.
        trigger: ``fn(upstream_states: dict[Edge, State]) -> bool`` deciding whether the
            task runs; defaults to ``headwater.triggers.all_successful``.
        skip_on_upstream_skip: skip this task when any upstream task was skipped.
        cache_for: keep a successful result valid for this long (``Cached`` state).
        cache_validator: ``fn(state, inputs, parameters) -> bool`` checking a cached state.
        cache_key: key under which the cache is shared between tasks.
        checkpoint: ``False`` turns off writing this task's result when checkpointing.
        state_handlers: ``fn(task, old_state, new_state) -> State | None`` called on
            every state change.
        on_failure: ``fn(task, state)`` called when the task ends failed.
        log_stdout: capture ``print`` output of ``run()`` into the task logger.
        result: the :class:`Result` this task's value is written with.
        target: location template; when it exists the task is skipped as ``Cached``.
        task_run_name: name template for the task run (used by the backend).
        nout: number of outputs, so a bound task can be unpacked as a tuple.

    Raises:
        ValueError: on contradictory or out-of-range options.
        TypeError: on options of the wrong type.
    """

    def __init__(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        max_retries: int | None = None,
        retry_delay: datetime.timedelta | None = None,
        retry_on: type[BaseException] | Iterable[type[BaseException]] | None = None,
        timeout: int | float | datetime.timedelta | None = None,
        trigger: Callable[..., bool] | None = None,
        skip_on_upstream_skip: bool = True,
        cache_for: datetime.timedelta | None = None,
        cache_validator: Callable[..., bool] | None = None,
        cache_key: str | None = None,
        checkpoint: bool | None = None,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
        on_failure: Callable[..., Any] | None = None,
        log_stdout: bool = False,
        result: Any = None,
        target: str | Callable[..., str] | None = None,
        task_run_name: str | Callable[..., str] | None = None,
        nout: int | None = None,
    ) -> None:
        self.name: str = name if name is not None else type(self).__name__
        if not isinstance(self.name, str):
            raise TypeError(f"Task name must be a string, got {self.name!r}.")
        if slug is not None and not isinstance(slug, str):
            raise TypeError(f"Task {self.name!r}: slug must be a string, got {slug!r}.")
        self.slug = slug
        # True once a flow assigned the slug; copies then get a fresh one from their flow.
        self._auto_slug = False
        if isinstance(tags, str):
            raise TypeError(f"Task {self.name!r}: tags must be a collection of strings, not a str.")
        self.tags: set[str] = set(tags or ()) | ACTIVE_TAGS.get()

        self.max_retries: int = 0 if max_retries is None else max_retries
        self.retry_delay = retry_delay
        if retry_on is not None and isinstance(retry_on, type):
            retry_on = [retry_on]
        self.retry_on: set[type[BaseException]] | None = (
            set(retry_on) if retry_on is not None else None
        )
        self.timeout = _to_timeout(self.name, timeout)
        self.trigger: Callable[..., bool] = trigger if trigger is not None else _default_trigger()
        self.skip_on_upstream_skip = skip_on_upstream_skip
        if cache_for is None and (cache_validator is not None or cache_key is not None):
            warnings.warn(
                f"Task {self.name!r}: cache_validator/cache_key have no effect without cache_for.",
                UserWarning,
                stacklevel=2,
            )
        self.cache_for = cache_for
        self.cache_validator = cache_validator
        self.cache_key = cache_key
        self.checkpoint = checkpoint
        self.state_handlers: list[Callable[..., Any]] = list(state_handlers or [])
        if on_failure is not None:
            self.state_handlers.append(_FailureCallback(on_failure))
        self.log_stdout = log_stdout
        self.result = result
        self.target = target
        self.task_run_name = task_run_name
        self.nout = nout if nout is not None else self._nout_from_annotation()
        self._validate_options()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "run" in cls.__dict__:
            _check_run_signature(cls.__dict__["run"], cls.__name__)

    def _validate_options(self) -> None:
        name = self.name
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError(f"Task {name!r}: max_retries must be an int, got {self.max_retries!r}.")
        if self.max_retries < 0:
            raise ValueError(f"Task {name!r}: max_retries must be >= 0, got {self.max_retries}.")
        if self.retry_delay is not None and not isinstance(self.retry_delay, datetime.timedelta):
            raise TypeError(
                f"Task {name!r}: retry_delay must be a datetime.timedelta, got {self.retry_delay!r}."
            )
        if self.max_retries > 0 and self.retry_delay is None:
            raise ValueError(
                f"Task {name!r}: a datetime.timedelta `retry_delay` must be provided if"
                " max_retries > 0."
            )
        if self.cache_for is not None and not isinstance(self.cache_for, datetime.timedelta):
            raise TypeError(
                f"Task {name!r}: cache_for must be a timedelta, got {self.cache_for!r}."
            )
        if self.nout is not None and (
            isinstance(self.nout, bool) or not isinstance(self.nout, int) or self.nout < 0
        ):
            raise ValueError(f"Task {name!r}: nout must be a non-negative int, got {self.nout!r}.")
        if not callable(self.trigger):
            raise TypeError(f"Task {name!r}: trigger must be callable, got {self.trigger!r}.")
        for handler in self.state_handlers:
            if not callable(handler):
                raise TypeError(f"Task {name!r}: state handler {handler!r} is not callable.")

    # ------------------------------------------------------------------ introspection

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"

    @property
    def logger(self) -> logging.Logger:
        """The logger named after this task (``headwater.<name>``), as in runs."""
        return get_logger(self.name)

    if TYPE_CHECKING:
        # Subclasses choose their own inputs; this keeps every override type-compatible.
        def run(self, *args: Any, **kwargs: Any) -> Any:
            """Do the task's work."""

    else:

        def run(self) -> Any:
            """Do the task's work. Subclasses override this; the base class does nothing."""
            return None

    def _run_signature(self) -> inspect.Signature:
        return inspect.signature(self.run)

    def inputs(self) -> dict[str, dict[str, Any]]:
        """Describe the keyword inputs of ``run()``.

        Returns:
            ``{name: {"required": bool, "type": annotation}}`` per argument.
        """
        out: dict[str, dict[str, Any]] = {}
        hints = self._type_hints()
        for p in self._run_signature().parameters.values():
            if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
                continue
            out[p.name] = {
                "required": p.default is inspect.Parameter.empty,
                "type": hints.get(p.name, Any),
            }
        return out

    def _nout_from_annotation(self) -> int | None:
        """``n`` when ``run()`` is annotated ``-> tuple[A, B, ...]`` with n fixed items."""
        ret = self._type_hints().get("return")
        if typing.get_origin(ret) is not tuple:
            return None
        args = typing.get_args(ret)
        if not args or Ellipsis in args or args == ((),):
            return None
        return len(args)

    def _type_hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.run)
        except Exception:  # unresolvable string annotations: report them as Any
            return {}

    def outputs(self) -> Any:
        """The return annotation of ``run()`` (``Any`` when absent)."""
        return self._type_hints().get("return", Any)

    # ------------------------------------------------------------------ copying and binding

    def copy(self, **task_args: Any) -> Task:
        """Return a shallow copy with some options replaced.

        Args:
            **task_args: attributes to set on the copy (``name=``, ``tags=``, ...).

        Returns:
            The new, unbound task.

        Raises:
            AttributeError: when a key is not an option of this task.
        """
        flow = ACTIVE_FLOW.get()
        if (
            flow is not None
            and self in flow.tasks
            and (flow.edges_to(self) or flow.edges_from(self))
        ):
            warnings.warn(
                f"Copying {self} which has dependencies in the active flow; the copy will"
                " not keep them.",
                UserWarning,
                stacklevel=2,
            )
        new = _copy.copy(self)
        if "slug" in task_args or self._auto_slug:
            new._auto_slug = False
            if "slug" not in task_args:
                new.slug = None
        elif new.slug:
            task_args["slug"] = new.slug + "-copy"
        for attr, value in task_args.items():
            if not hasattr(new, attr):
                raise AttributeError(f"{self} does not have {attr!r} as an attribute.")
            if attr == "timeout":
                value = _to_timeout(self.name, value)
            elif attr == "tags":
                if isinstance(value, str):
                    raise TypeError(f"Task {self.name!r}: tags must be a collection of strings.")
                value = set(value or ())
            elif attr == "state_handlers":
                value = list(value or [])
            setattr(new, attr, value)
        # The copy gets its own containers so that later edits do not leak back.
        new.tags = set(self.tags) | set(new.tags) | ACTIVE_TAGS.get()
        if "state_handlers" not in task_args:
            new.state_handlers = list(self.state_handlers)
        new._validate_options()
        return new

    def __call__(
        self,
        *args: Any,
        mapped: bool = False,
        task_args: dict[str, Any] | None = None,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        **kwargs: Any,
    ) -> Task:
        """Bind a copy of this task into the active flow (does not run it).

        Args:
            *args: positional inputs for ``run()``.
            mapped: map over every input (as :meth:`map` does).
            task_args: options for the copy (see :meth:`copy`).
            upstream_tasks: tasks that must run first without passing a value.
            flow: the flow to bind into; defaults to the active ``with Flow`` block.
            **kwargs: keyword inputs for ``run()``; tasks become edges, other values
                constants.

        Returns:
            The bound copy.
        """
        new = self.copy(**(task_args or {}))
        return new.bind(*args, mapped=mapped, upstream_tasks=upstream_tasks, flow=flow, **kwargs)

    def bind(
        self,
        *args: Any,
        mapped: bool = False,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        **kwargs: Any,
    ) -> Task:
        """Bind *this* task (not a copy) to its inputs in a flow.

        Raises:
            TypeError: when required inputs are missing or unknown ones are given; the
                message names the task.
            ValueError: when there is no flow to bind into.
        """
        signature = self._run_signature()
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"Task {self.name!r} could not bind its inputs: {exc}") from None
        callargs = dict(bound.arguments)
        for p in signature.parameters.values():
            if p.kind is inspect.Parameter.VAR_KEYWORD and p.name in callargs:
                callargs.update(callargs.pop(p.name))
        flow = flow if flow is not None else ACTIVE_FLOW.get()
        if flow is None:
            raise ValueError(
                f"Could not infer an active Flow context while creating edges to {self}."
                " Tasks are called inside a `with Flow(...)` block; to run task"
                f" {self.name!r} directly, call its `.run(...)` method."
            )
        flow.set_dependencies(
            task=self, upstream_tasks=upstream_tasks, keyword_tasks=callargs, mapped=mapped
        )
        self.tags.update(ACTIVE_TAGS.get())
        return self

    def map(
        self,
        *args: Any,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        task_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Task:
        """Bind a copy that runs once per element of its (mapped) inputs.

        Wrap an input in :class:`~headwater.unmapped` to pass it whole to every child.

        Returns:
            The bound, mapped copy.
        """
        new = self.copy(**(task_args or {}))
        return new.bind(*args, mapped=True, upstream_tasks=upstream_tasks, flow=flow, **kwargs)

    def _require_flow(self, flow: Flow | None) -> Flow:
        flow = flow if flow is not None else ACTIVE_FLOW.get()
        if flow is None:
            raise ValueError(f"No Flow was passed and there is no active Flow context for {self}.")
        return flow

    def set_dependencies(
        self,
        flow: Flow | None = None,
        upstream_tasks: Iterable[Any] | None = None,
        downstream_tasks: Iterable[Any] | None = None,
        keyword_tasks: dict[str, Any] | None = None,
        mapped: bool = False,
    ) -> None:
        """Add edges around this task in ``flow`` (or the active flow)."""
        self._require_flow(flow).set_dependencies(
            task=self,
            upstream_tasks=upstream_tasks,
            downstream_tasks=downstream_tasks,
            keyword_tasks=keyword_tasks,
            mapped=mapped,
        )

    def set_upstream(
        self, task: Any, flow: Flow | None = None, key: str | None = None, mapped: bool = False
    ) -> None:
        """Make ``task`` run before this one (passing its result as ``key`` if given)."""
        if key is not None:
            self.set_dependencies(flow=flow, keyword_tasks={key: task}, mapped=mapped)
        else:
            self.set_dependencies(flow=flow, upstream_tasks=[task], mapped=mapped)

    def set_downstream(
        self, task: Task, flow: Flow | None = None, key: str | None = None, mapped: bool = False
    ) -> None:
        """Make ``task`` run after this one (receiving its result as ``key`` if given)."""
        if key is not None:
            task.set_dependencies(flow=flow, keyword_tasks={key: self}, mapped=mapped)
        else:
            task.set_dependencies(flow=flow, upstream_tasks=[self], mapped=mapped)

    # ------------------------------------------------------------------ operators

    def __iter__(self) -> Iterator[Task]:
        if self.nout is None:
            raise TypeError(
                f"Task {self.name!r} is not iterable. If its result is a tuple, pass"
                " `nout=<number of outputs>` to the task (or `@task(nout=...)`)."
            )
        return (self[i] for i in range(self.nout))

    def __getitem__(self, key: Any) -> Task:
        # deferred: the operator tasks subclass Task, so they import this module.
        from headwater.core._operators import GetItem

        name = f"{self.name}[{key!r}]"
        return GetItem(name=name, checkpoint=self.checkpoint, result=self.result).bind(self, key)

    def _binary(self, op: str, other: Any, reverse: bool = False) -> Task:
        # deferred: the operator tasks subclass Task, so they import this module.
        from headwater.core import _operators as operators

        cls = getattr(operators, op)
        left, right = (other, self) if reverse else (self, other)
        return cls().bind(left, right)  # type: ignore[no-any-return]

    def __add__(self, other: Any) -> Task:
        return self._binary("Add", other)

    def __radd__(self, other: Any) -> Task:
        return self._binary("Add", other, True)

    def __sub__(self, other: Any) -> Task:
        return self._binary("Sub", other)

    def __rsub__(self, other: Any) -> Task:
        return self._binary("Sub", other, True)

    def __mul__(self, other: Any) -> Task:
        return self._binary("Mul", other)

    def __rmul__(self, other: Any) -> Task:
        return self._binary("Mul", other, True)

    def __truediv__(self, other: Any) -> Task:
        return self._binary("Div", other)

    def __rtruediv__(self, other: Any) -> Task:
        return self._binary("Div", other, True)

    def __floordiv__(self, other: Any) -> Task:
        return self._binary("FloorDiv", other)

    def __rfloordiv__(self, other: Any) -> Task:
        return self._binary("FloorDiv", other, True)

    def __mod__(self, other: Any) -> Task:
        return self._binary("Mod", other)

    def __rmod__(self, other: Any) -> Task:
        return self._binary("Mod", other, True)

    def __pow__(self, other: Any) -> Task:
        return self._binary("Pow", other)

    def __rpow__(self, other: Any) -> Task:
        return self._binary("Pow", other, True)

    def __gt__(self, other: Any) -> Task:
        return self._binary("GreaterThan", other)

    def __ge__(self, other: Any) -> Task:
        return self._binary("GreaterThanOrEqual", other)

    def __lt__(self, other: Any) -> Task:
        return self._binary("LessThan", other)

    def __le__(self, other: Any) -> Task:
        return self._binary("LessThanOrEqual", other)

    def __and__(self, other: Any) -> Task:
        return self._binary("And", other)

    def __rand__(self, other: Any) -> Task:
        return self._binary("And", other, True)

    def __or__(self, other: Any) -> Any:
        """``a | b``: make ``b`` run after ``a`` (a state dependency; returns ``b``)."""
        self.set_dependencies(downstream_tasks=[other])
        return other

    def __ror__(self, other: Any) -> Task:
        """``x | task``: make this task run after ``x``; returns this task."""
        self.set_dependencies(upstream_tasks=[other])
        return self

    def or_(self, other: Any) -> Task:
        """A task whose result is ``self or other`` (``|`` builds a dependency instead)."""
        return self._binary("Or", other)

    def is_equal(self, other: Any) -> Task:
        """A task whose result is ``self == other`` (``==`` itself keeps identity)."""
        return self._binary("Equal", other)

    def is_not_equal(self, other: Any) -> Task:
        """A task whose result is ``self != other``."""
        return self._binary("NotEqual", other)

    def not_(self) -> Task:
        """A task whose result is ``not self``."""
        # deferred: the operator tasks subclass Task, so they import this module.
        from headwater.core._operators import Not

        return Not().bind(self)

    __hash__ = object.__hash__


class _FailureCallback:
    """State handler that calls an ``on_failure(task, state)`` callback on failure."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, task: Any, old_state: Any, new_state: Any) -> Any:
        if new_state.is_failed():
            self.fn(task, new_state)
        return new_state
