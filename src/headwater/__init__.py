"""Headwater: a self-hosted workflow orchestrator with Prefect 1's authoring API.

Contract:
    This module is the public surface users import from (``from headwater import Flow,
    task, Parameter``). Importing it stays fast and loads no server, client or Dask code:
    :class:`Client` is loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from headwater import triggers
from headwater._version import __version__
from headwater.core.edge import flatten, mapped, unmapped
from headwater.core.flow import Flow
from headwater.core.parameter import DateTimeParameter, Parameter
from headwater.core.task import Task
from headwater.engine import signals
from headwater.tasks.control_flow import case, merge
from headwater.tasks.core.resource_manager import resource_manager
from headwater.utilities.configuration import config
from headwater.utilities.context import context
from headwater.utilities.tasks import apply_map, tags, task

if TYPE_CHECKING:
    from headwater.client import Client

__all__ = [
    "Client",
    "DateTimeParameter",
    "Flow",
    "Parameter",
    "Task",
    "__version__",
    "apply_map",
    "case",
    "config",
    "context",
    "flatten",
    "mapped",
    "merge",
    "resource_manager",
    "signals",
    "tags",
    "task",
    "triggers",
    "unmapped",
]


def __getattr__(name: str) -> Any:
    if name == "Client":
        # deferred: the client loads httpx (~100 ms); `import headwater` stays light.
        from headwater.client import Client

        return Client
    if name == "schedules":
        # Prefect 1 programs use ``prefect.schedules.X`` after a bare ``import prefect``.
        return importlib.import_module("headwater.schedules")
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")
