"""The engine: states, signals, results, serializers and the runners that drive them.

Contract:
    ``headwater.engine.state`` and ``headwater.engine.signals`` are importable on their
    own and cheap. The runners (``FlowRunner``, ``TaskRunner``) are loaded on first
    attribute access so that importing the engine never pulls in executors or clients.
"""

from __future__ import annotations

import importlib
from typing import Any

from headwater.engine import signals, state

__all__ = ["FlowRunner", "TaskRunner", "signals", "state"]

_LAZY = {
    "FlowRunner": "headwater.engine.flow_runner",
    "TaskRunner": "headwater.engine.task_runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'headwater.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
