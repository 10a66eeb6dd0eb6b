"""``headwater.backend.task_run``: Prefect 1's ``prefect.backend.task_run`` path.

Contract:
    Re-exports :class:`TaskRunView` (the object :mod:`headwater.backend` exports).
"""

from __future__ import annotations

from headwater.backend._task_run import TaskRunView

__all__ = ["TaskRunView"]
