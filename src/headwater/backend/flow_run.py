"""``headwater.backend.flow_run``: Prefect 1's ``prefect.backend.flow_run`` path.

Contract:
    Re-exports :class:`FlowRunView`, :class:`FlowRunLog` and :func:`watch_flow_run` (the
    objects :mod:`headwater.backend` exports).
"""

from __future__ import annotations

from headwater.backend._flow_run import FlowRunLog, FlowRunView
from headwater.backend._watch import watch_flow_run

__all__ = ["FlowRunLog", "FlowRunView", "watch_flow_run"]
