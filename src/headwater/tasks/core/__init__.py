"""Core tasks: functions as tasks, constants, collections and operators."""

from headwater.tasks.core.collections import Dict, List, Set, Tuple
from headwater.tasks.core.constants import Constant
from headwater.tasks.core.function import FunctionTask

__all__ = ["Constant", "Dict", "FunctionTask", "List", "Set", "Tuple"]
