"""Tasks that work with other flows' runs: flows of flows.

Prefect 1's ``prefect.tasks.prefect`` at ``headwater.tasks.headwater``:

* :func:`create_flow_run`, :func:`wait_for_flow_run`, :func:`get_task_run_result`
  (functional tasks) and :class:`StartFlowRun` (class task) in
  :mod:`headwater.tasks.headwater.flow_run`;
* :class:`RenameFlowRun` in :mod:`headwater.tasks.headwater.flow_run_rename`;
* :class:`CancelFlowRun` in :mod:`headwater.tasks.headwater.flow_run_cancel`.
"""

from __future__ import annotations

from headwater.tasks.headwater.flow_run import (
    StartFlowRun,
    create_flow_run,
    get_task_run_result,
    wait_for_flow_run,
)
from headwater.tasks.headwater.flow_run_cancel import CancelFlowRun
from headwater.tasks.headwater.flow_run_rename import RenameFlowRun

__all__ = [
    "CancelFlowRun",
    "RenameFlowRun",
    "StartFlowRun",
    "create_flow_run",
    "get_task_run_result",
    "wait_for_flow_run",
]
