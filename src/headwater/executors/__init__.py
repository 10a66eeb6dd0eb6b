"""Executors: where a flow's task runs execute.

Contract:
    ``LocalExecutor`` (the default) runs calls in the calling thread;
    ``LocalDaskExecutor`` runs them on a local thread or process pool; ``DaskExecutor``
    runs them on a Dask distributed cluster. All three follow the interface in
    :mod:`headwater.executors.base`. Importing this package imports neither dask nor
    distributed.
"""

from __future__ import annotations

from headwater.executors.base import Executor
from headwater.executors.dask import DaskExecutor, LocalDaskExecutor
from headwater.executors.local import LocalExecutor

__all__ = ["DaskExecutor", "Executor", "LocalDaskExecutor", "LocalExecutor"]
