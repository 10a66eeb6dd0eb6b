"""The engine: states, signals, results, serializers and the runners that drive them.

Contract:
    ``headwater.engine.state`` and ``headwater.engine.signals`` are importable on their
    own and cheap. The runners (``FlowRunner``, ``TaskRunner``) are loaded on first
    attribute access so that importing the engine never pulls in executors or clients;
    so is the ``results`` subpackage (``headwater.engine.results.LocalResult`` works after
    a bare ``import headwater``, as in Prefect 1).
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


# Subpackages reachable as attributes before anything imported them.
_LAZY_MODULES = {"results": "headwater.engine.results"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'headwater.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
