"""Conditional branches: ``switch``, ``ifelse`` and ``merge``.

Contract:
    A branch is guarded by a :class:`CompareValue` task that raises ``SKIP`` when the
    condition's result differs from the branch's value. Skips propagate to everything
    downstream that keeps ``skip_on_upstream_skip=True``; :class:`Merge` does not, and
    returns the first non-``None`` result among its inputs (in binding order).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater import triggers
from headwater.core._active import ACTIVE_FLOW
from headwater.core.task import Task
from headwater.engine import signals
from headwater.tasks.core.function import FunctionTask

__all__ = ["CompareValue", "Merge", "ifelse", "merge", "switch"]


class CompareValue(Task):
    """Succeed when the input equals ``value``; skip otherwise.

    Args:
        value: the value a branch is taken for.
        **kwargs: other :class:`~headwater.Task` options.
    """

    def __init__(self, value: Any, **kwargs: Any) -> None:
        self.value = value
        kwargs.setdefault("name", f"CompareValue: {value!r}")
        super().__init__(**kwargs)

    def run(self, value: Any) -> None:
        """Raise ``SKIP`` unless ``value`` equals this branch's value."""
        if value != self.value:
            raise signals.SKIP(
                f'Provided value "{value!r}" did not match "{self.value!r}"', result=None
            )


def _not_all_skipped(upstream_states: Mapping[Any, Any]) -> bool:
    return bool(triggers.not_all_skipped(upstream_states))


class Merge(Task):
    """Return the first non-``None`` input; runs unless every input was skipped."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger", _not_all_skipped)
        kwargs.setdefault("skip_on_upstream_skip", False)
        super().__init__(**kwargs)

    def run(self, **task_results: Any) -> Any:
        """Return the first input (by binding order) that is not ``None``."""
        for key in sorted(task_results, key=lambda k: int(k.rsplit("_", 1)[1])):
            if task_results[key] is not None:
                return task_results[key]
        return None


def switch(condition: Any, cases: Mapping[Any, Task], mapped: bool = False) -> None:
    """Run only the task in ``cases`` whose key equals ``condition``'s result.

    Args:
        condition: a task (or value) to compare.
        cases: ``{value: task}``; the tasks must already be in the active flow.
        mapped: compare per mapped child.

    Raises:
        ValueError: when there is no active flow.
    """
    flow = ACTIVE_FLOW.get()
    if flow is None:
        raise ValueError("switch() must be called inside a `with Flow(...)` block.")
    for value, branch in cases.items():
        guard = CompareValue(value)
        cond = guard.map(value=condition) if mapped else guard.bind(value=condition)
        branch.set_upstream(cond, flow=flow, mapped=mapped)


def _as_bool(x: Any) -> bool:
    return bool(x)


def ifelse(
    condition: Any, true_task: Task | None, false_task: Task | None, mapped: bool = False
) -> None:
    """Run ``true_task`` when ``condition``'s result is truthy, else ``false_task``.

    Args:
        condition: a task (or value) tested with ``bool()``.
        true_task: the branch for a truthy result (or None).
        false_task: the branch for a falsy result (or None).
        mapped: test per mapped child.
    """
    cases = {c: t for c, t in ((True, true_task), (False, false_task)) if t is not None}
    if not cases:
        return
    as_bool = FunctionTask(_as_bool, name="as_bool")
    cond = as_bool.map(condition) if mapped else as_bool(condition)
    switch(condition=cond, cases=cases, mapped=mapped)


def merge(*tasks: Any, flow: Any = None, mapped: bool = False) -> Task:
    """A task returning the first non-``None`` result among ``tasks`` (a branch join).

    Args:
        *tasks: the branch tasks, in priority order.
        flow: the flow (default: the active one).
        mapped: merge per mapped child.

    Returns:
        The bound :class:`Merge` task.
    """
    keywords = {f"task_{i}": t for i, t in enumerate(tasks, start=1)}
    m = Merge()
    if mapped:
        return m.map(flow=flow, **keywords)
    return m.bind(flow=flow, **keywords)
