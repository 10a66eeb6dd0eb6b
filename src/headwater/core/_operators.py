"""Operator tasks built by ``task[key]``, ``task + x``, ``task > x`` and friends."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, ClassVar

from headwater.core._naming import publish
from headwater.core.task import Task

__all__ = [
    "Add",
    "And",
    "Div",
    "Equal",
    "FloorDiv",
    "GetItem",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
    "Mod",
    "Mul",
    "Not",
    "NotEqual",
    "Or",
    "Pow",
    "Sub",
]


class GetItem(Task):
    """Return ``task_result[key]``."""

    def run(self, task_result: Any, key: Any) -> Any:
        """Index the upstream result."""
        return task_result[key]


class _Binary(Task):
    op: ClassVar[Callable[[Any, Any], Any]]

    def run(self, x: Any, y: Any) -> Any:
        """Apply the operator to the two inputs."""
        return type(self).op(x, y)


def _binary(name: str, fn: Callable[[Any, Any], Any]) -> type[_Binary]:
    cls = type(name, (_Binary,), {"op": staticmethod(fn), "__doc__": f"``{name}`` of two inputs."})
    return cls


Add = _binary("Add", operator.add)
Sub = _binary("Sub", operator.sub)
Mul = _binary("Mul", operator.mul)
Div = _binary("Div", operator.truediv)
FloorDiv = _binary("FloorDiv", operator.floordiv)
Mod = _binary("Mod", operator.mod)
Pow = _binary("Pow", operator.pow)
GreaterThan = _binary("GreaterThan", operator.gt)
GreaterThanOrEqual = _binary("GreaterThanOrEqual", operator.ge)
LessThan = _binary("LessThan", operator.lt)
LessThanOrEqual = _binary("LessThanOrEqual", operator.le)
Equal = _binary("Equal", operator.eq)
NotEqual = _binary("NotEqual", operator.ne)
And = _binary("And", lambda x, y: x and y)
Or = _binary("Or", lambda x, y: x or y)


class Not(Task):
    """Return ``not x``."""

    def run(self, x: Any) -> bool:
        """Negate the input."""
        return not x


publish("headwater.tasks.core.operators", globals(), __all__)
