"""Public module names for what the private core modules define.

Serialized flows, pickles and reprs record the module of a task class or trigger. The
graph's built-in tasks and default triggers live in private ``headwater.core`` modules
but keep the public paths users import them from (``headwater.triggers``,
``headwater.tasks.core.function``, ...), so where the code lives is invisible outside.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import FunctionType
from typing import Any

__all__ = ["publish"]


def publish(module: str, namespace: dict[str, Any], names: Iterable[str]) -> None:
    """Set ``__module__`` to ``module`` on each named class or function of ``namespace``."""
    for name in names:
        obj = namespace[name]
        if isinstance(obj, (type, FunctionType)):
            obj.__module__ = module
