"""Control flow: run parts of a flow conditionally, then merge the branches."""

from headwater.tasks.control_flow.case import case
from headwater.tasks.control_flow.conditional import CompareValue, Merge, ifelse, merge, switch
from headwater.tasks.control_flow.filter import FilterTask

__all__ = ["CompareValue", "FilterTask", "Merge", "case", "ifelse", "merge", "switch"]
