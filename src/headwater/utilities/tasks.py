"""Helpers for writing tasks: ``@task``, ``defaults_from_attrs``, ``as_task``, ``tags``.

Contract:
    ``@task`` (bare or with options) turns a function into a :class:`FunctionTask` whose
    ``run`` is the function. ``defaults_from_attrs("a", "b")`` decorates a ``run`` method
    so that any of those keywords *not passed by the caller* is filled from the instance
    attribute of the same name (an explicit ``None`` still wins, as in Prefect 1).
    ``as_task`` turns a value into a task: a task stays itself, a collection holding
    tasks becomes a collection task bound to them, anything else becomes a Constant.
    ``with tags("a", "b"):`` adds tags to every task created or bound in the block.
    ``apply_map(fn, *args, **kwargs)`` maps a function that *builds* tasks across its
    inputs: the tasks ``fn`` adds run once per element.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, overload

from headwater.core._active import ACTIVE_TAGS
from headwater.core.edge import EdgeAnnotation, flatten, mapped, unmapped
from headwater.core.task import Task

if TYPE_CHECKING:
    from headwater.core.flow import Flow
    from headwater.tasks.core.function import FunctionTask

__all__ = [
    "apply_map",
    "as_task",
    "defaults_from_attrs",
    "flatten",
    "mapped",
    "tags",
    "task",
    "unmapped",
]

F = TypeVar("F", bound=Callable[..., Any])


@overload
def task(fn: Callable[..., Any], **task_init_kwargs: Any) -> FunctionTask: ...


@overload
def task(
    fn: None = None, **task_init_kwargs: Any
) -> Callable[[Callable[..., Any]], FunctionTask]: ...


def task(
    fn: Callable[..., Any] | None = None, **task_init_kwargs: Any
) -> FunctionTask | Callable[[Callable[..., Any]], FunctionTask]:
    """Turn a function into a task; use bare (``@task``) or with options (``@task(...)``).

    Args:
        fn: the function whose body is the task's work.
        **task_init_kwargs: :class:`~headwater.Task` options (name, max_retries, ...).

    Returns:
        A :class:`FunctionTask`, or a decorator producing one.
    """
    from headwater.tasks.core.function import FunctionTask

    if fn is None:
        return lambda f: FunctionTask(fn=f, **task_init_kwargs)
    return FunctionTask(fn=fn, **task_init_kwargs)


def defaults_from_attrs(*attr_args: str) -> Callable[[F], F]:
    """Fill keyword arguments of ``run()`` from instance attributes when not passed.

    Args:
        *attr_args: attribute names that double as ``run()`` keywords.

    Returns:
        A decorator for a ``run`` method.
    """

    def decorator(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            for attr in attr_args:
                if attr not in kwargs:
                    kwargs[attr] = getattr(self, attr)
            return method(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _contains_task(value: Any) -> bool:
    if isinstance(value, (Task, EdgeAnnotation)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_contains_task(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_task(k) or _contains_task(v) for k, v in value.items())
    return False


def as_task(x: Any, flow: Flow | None = None) -> Task:
    """Return ``x`` as a task.

    Args:
        x: a task, a collection (possibly holding tasks) or any value.
        flow: the flow collection tasks are bound into (default: the active flow).

    Returns:
        ``x`` itself, a bound collection task, or a :class:`Constant`.
    """
    from headwater.tasks.core import collections as col
    from headwater.tasks.core.constants import Constant

    if isinstance(x, Task):
        return x
    if isinstance(x, EdgeAnnotation):
        return as_task(x.task, flow=flow)
    if not _contains_task(x):
        return Constant(x)
    if isinstance(x, list):
        return col.List().bind(*x, flow=flow)
    if isinstance(x, tuple):
        return col.Tuple().bind(*x, flow=flow)
    if isinstance(x, (set, frozenset)):
        return col.Set().bind(*x, flow=flow)
    # a dict holding tasks
    keys = list(x.keys())
    return col.Dict().bind(keys=keys, values=[x[k] for k in keys], flow=flow)


@contextmanager
def tags(*tags: str) -> Iterator[None]:
    """Add ``tags`` to every task created or bound inside the ``with`` block."""
    token = ACTIVE_TAGS.set(ACTIVE_TAGS.get() | frozenset(tags))
    try:
        yield
    finally:
        ACTIVE_TAGS.reset(token)


class _MapInput(Task):
    """Stands for one element of a mapped input while ``apply_map`` builds the graph."""

    def run(self) -> None:  # never runs: replaced before the flow runs
        raise RuntimeError("apply_map placeholder ran")


def apply_map(func: Callable[..., Any], *args: Any, flow: Flow | None = None, **kwargs: Any) -> Any:
    """Map a function that adds tasks to a flow element-wise across its inputs.

    ``func`` is called once, inside a scratch flow, with a placeholder for each mapped
    input (wrap an input in :class:`unmapped` to pass it whole). The tasks it creates are
    then added to ``flow`` so that each runs once per element; tasks that depend on no
    mapped input run once. ``case`` blocks inside ``func`` branch per element.

    Args:
        func: the function that builds tasks.
        *args: its positional inputs (tasks or values).
        flow: the flow to add to (default: the active one).
        **kwargs: its keyword inputs.

    Returns:
        What ``func`` returned (tasks now in ``flow``).

    Raises:
        ValueError: when there is no flow.
    """
    from headwater.core._active import ACTIVE_FLOW
    from headwater.core.flow import Flow as _Flow

    target = flow if flow is not None else ACTIVE_FLOW.get()
    if target is None:
        raise ValueError("apply_map() needs a flow: call it inside a `with Flow(...)` block.")
    sources: dict[Task, tuple[Any, bool]] = {}

    def convert(value: Any) -> Any:
        if isinstance(value, unmapped):
            return value.task
        flattened = isinstance(value, flatten)
        placeholder = _MapInput(name="apply_map input")
        sources[placeholder] = (value.task if flattened else value, flattened)
        return placeholder

    call_args = [convert(a) for a in args]
    call_kwargs = {k: convert(v) for k, v in kwargs.items()}
    with _Flow("apply_map") as scratch:
        returned = func(*call_args, **call_kwargs)
    mapped_tasks: set[Task] = set()
    for t in scratch.sorted_tasks():
        if t in sources:
            continue
        if any(
            e.upstream_task in sources or e.upstream_task in mapped_tasks
            for e in scratch.edges_to(t)
        ):
            mapped_tasks.add(t)
    for t in scratch.sorted_tasks():
        if t in sources:
            continue
        target.add_task(t)
        for key, value in scratch.constants.get(t, {}).items():
            target.constants[t][key] = value
    for e in scratch.edges:
        if e.downstream_task in sources:
            continue
        if e.upstream_task in sources:
            source, flattened = sources[e.upstream_task]
            target.add_edge(source, e.downstream_task, e.key, mapped=True, flattened=flattened)
        else:
            mapped_edge = e.mapped or e.upstream_task in mapped_tasks
            target.add_edge(
                e.upstream_task, e.downstream_task, e.key, mapped=mapped_edge, flattened=e.flattened
            )
    return returned
