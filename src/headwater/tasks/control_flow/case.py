"""``case``: a ``with`` block whose tasks run only when a task's result equals a value.

Contract:
    On leaving the block, every task added to the flow inside it that has no upstream
    task also added inside it gets a :class:`CompareValue` guard as its upstream. When the
    guard skips, the skip propagates through the block (and beyond, to tasks with
    ``skip_on_upstream_skip=True``). Cases nest.
"""

from __future__ import annotations

from typing import Any

from headwater.core._active import ACTIVE_FLOW
from headwater.core.flow import Flow
from headwater.core.task import Task
from headwater.tasks.control_flow.conditional import CompareValue

__all__ = ["case"]


class case:
    """Run the tasks of the block only when ``task``'s result equals ``value``.

    Args:
        task: the task whose result is compared.
        value: the value the block runs for.

    Raises:
        ValueError: when used outside a ``with Flow(...)`` block.
    """

    def __init__(self, task: Any, value: Any) -> None:
        self.task = task
        self.value = value
        self._flow: Flow | None = None
        self._before: set[Task] = set()

    def __enter__(self) -> case:
        flow = ACTIVE_FLOW.get()
        if flow is None:
            raise ValueError("case() must be used inside a `with Flow(...)` block.")
        self._flow = flow
        self._before = set(flow.tasks)
        return self

    def __exit__(self, *exc: object) -> None:
        flow = self._flow
        assert flow is not None
        added = [t for t in flow.slugs if t not in self._before]
        if not added:
            return
        cond = CompareValue(self.value, name=f"case({self.value!r})").bind(
            value=self.task, flow=flow
        )
        added_set = set(added)
        for child in added:
            if not added_set.intersection(flow.upstream_tasks(child)):
                child.set_upstream(cond, flow=flow)
