"""The graph: tasks, flows, parameters and edges (imports nothing from the server side)."""

from headwater.core.edge import Edge, flatten, mapped, unmapped
from headwater.core.flow import Flow
from headwater.core.parameter import DateTimeParameter, Parameter
from headwater.core.task import Task

__all__ = [
    "DateTimeParameter",
    "Edge",
    "Flow",
    "Parameter",
    "Task",
    "flatten",
    "mapped",
    "unmapped",
]
