"""Edges between tasks and the annotations that change how a value flows along them.

Contract:
    An :class:`Edge` says that ``downstream_task`` runs after ``upstream_task``; with a
    ``key`` the upstream result is passed to the downstream task's ``run()`` as that
    keyword argument. ``mapped=True`` makes the downstream task run once per element of
    the upstream result; ``flattened=True`` flattens a list of lists by one level first.

    :class:`unmapped`, :class:`flatten` and :class:`mapped` wrap a task (or plain value)
    where it is bound, to override the mapping of that one edge. Edges are immutable and
    compare by value, so a flow's edge set never holds duplicates.
"""

from __future__ import annotations

from typing import Any

from headwater.core.task import Task

__all__ = ["Edge", "EdgeAnnotation", "flatten", "mapped", "unmapped"]


class EdgeAnnotation:
    """Base class of the wrappers that annotate one bound argument.

    Args:
        task: the task (or plain value, later turned into a constant) being annotated.
    """

    annotations: dict[str, bool] = {}

    def __init__(self, task: Any) -> None:
        self.task = task

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task!r})"


class mapped(EdgeAnnotation):
    """Map over this argument even when the task is called (not ``.map``-ed)."""

    annotations = {"mapped": True}


class unmapped(EdgeAnnotation):
    """Pass this argument whole to every mapped child instead of mapping over it."""

    annotations = {"mapped": False}


class flatten(EdgeAnnotation):
    """Flatten this (list of lists) argument by one level before it is passed or mapped."""

    annotations = {"flattened": True}


class Edge:
    """A directed dependency between two tasks.

    Args:
        upstream_task: the task that runs first.
        downstream_task: the task that runs after it.
        key: the keyword argument of ``downstream_task.run()`` that receives the upstream
            result, or ``None`` for a pure ordering dependency.
        mapped: whether the downstream task maps over the upstream result.
        flattened: whether the upstream result is flattened by one level first.

    Raises:
        TypeError: when either end is not a task or ``key`` is not a string.
    """

    __slots__ = ("_hash", "downstream_task", "flattened", "key", "mapped", "upstream_task")

    def __init__(
        self,
        upstream_task: Task,
        downstream_task: Task,
        key: str | None = None,
        mapped: bool = False,
        flattened: bool = False,
    ) -> None:
        # Annotations may also arrive wrapped around the tasks themselves.
        if isinstance(upstream_task, EdgeAnnotation):
            for name, value in upstream_task.annotations.items():
                if name == "mapped":
                    mapped = value
                else:
                    flattened = value
            upstream_task = upstream_task.task
        if not isinstance(upstream_task, Task):
            raise TypeError(f"Edge upstream_task must be a Task, got {upstream_task!r}.")
        if not isinstance(downstream_task, Task):
            raise TypeError(f"Edge downstream_task must be a Task, got {downstream_task!r}.")
        if key is not None and not isinstance(key, str):
            raise TypeError(f"Edge key must be a string or None, got {key!r}.")
        self.upstream_task = upstream_task
        self.downstream_task = downstream_task
        self.key = key
        self.mapped = bool(mapped)
        self.flattened = bool(flattened)
        self._hash = hash((id(upstream_task), id(downstream_task), key, self.mapped, flattened))

    def _tuple(self) -> tuple[Any, ...]:
        return (
            id(self.upstream_task),
            id(self.downstream_task),
            self.key,
            self.mapped,
            self.flattened,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Edge):
            return NotImplemented
        return self._tuple() == other._tuple()

    def __hash__(self) -> int:
        return self._hash

    def __getstate__(self) -> dict[str, Any]:
        return {
            "upstream_task": self.upstream_task,
            "downstream_task": self.downstream_task,
            "key": self.key,
            "mapped": self.mapped,
            "flattened": self.flattened,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Identity-based hashes do not survive pickling, so recompute them.
        for name, value in state.items():
            setattr(self, name, value)
        self._hash = hash(self._tuple())

    def __repr__(self) -> str:
        name = f"{self.upstream_task.name} to {self.downstream_task.name}"
        extras = []
        if self.key:
            extras.append(f"key={self.key}")
        if self.mapped:
            extras.append("mapped")
        if self.flattened:
            extras.append("flattened")
        return f"<Edge ({', '.join(extras)}): {name}>" if extras else f"<Edge: {name}>"
