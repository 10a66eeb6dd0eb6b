"""Helpers for building flows: ``@task``, ``defaults_from_attrs``, ``tags``, ``apply_map``.

Contract:
    ``@task`` (bare or with options) turns a function into a :class:`FunctionTask` whose
    ``run`` is the function. ``defaults_from_attrs("a", "b")`` decorates a ``run`` method
    so that any of those keywords *not passed by the caller* is filled from the instance
    attribute of the same name (an explicit ``None`` still wins, as in Prefect 1).
    ``with tags("a", "b"):`` adds tags to every task created or bound in the block.
    ``apply_map(fn, *args, **kwargs)`` maps a function that *builds* tasks across its
    inputs: the tasks ``fn`` adds run once per element. Users import these from
    ``headwater`` or ``headwater.utilities.tasks``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from headwater.core._active import ACTIVE_FLOW, ACTIVE_TAGS
from headwater.core._function import FunctionTask
from headwater.core.edge import flatten, unmapped
from headwater.core.flow import Flow
from headwater.core.task import Task

__all__ = ["apply_map", "defaults_from_attrs", "tags", "task"]


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
    with Flow("apply_map") as scratch:
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
