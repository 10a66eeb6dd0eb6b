"""``as_task``: any value as a task of the graph.

Contract:
    A task stays itself (an edge annotation gives its task); a collection holding tasks
    becomes a collection task bound to them (in ``flow`` or the active flow); anything
    else becomes a :class:`~headwater.tasks.core.constants.Constant`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.core import _collections as col
from headwater.core._constants import Constant
from headwater.core.edge import EdgeAnnotation
from headwater.core.task import Task

if TYPE_CHECKING:
    from headwater.core.flow import Flow

__all__ = ["as_task"]


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
