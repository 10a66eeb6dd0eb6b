"""Backend runs: the flow-run process an agent starts, and runners that report to the server.

``python -m headwater.engine.backend FLOW_RUN_ID`` executes one flow run; see
``headwater.engine.backend._main`` for what that process guarantees.
"""

from __future__ import annotations

from typing import Any

from headwater.engine.backend._heartbeat import HeartbeatThread
from headwater.engine.backend._logs import ServerLogHandler
from headwater.engine.backend._main import run_flow_run

__all__ = [
    "BackendFlowRunner",
    "BackendTaskRunner",
    "HeartbeatThread",
    "ServerLogHandler",
    "run_flow_run",
]


def __getattr__(name: str) -> Any:
    if name in ("BackendFlowRunner", "BackendTaskRunner"):
        # deferred: the runners load the engine's runners and executors (multiprocessing,
        # cloudpickle); they load on first use only.
        from headwater.engine.backend import _runners

        return getattr(_runners, name)
    raise AttributeError(f"module 'headwater.engine.backend' has no attribute {name!r}")
