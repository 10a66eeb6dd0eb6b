"""CancelFlowRun: cancel a flow run, by default the one the task runs in.

Contract: ``run(flow_run_id=None, cascade=None)`` takes both from the constructor unless
given at run time; a falsy ``flow_run_id`` falls back to the context's ``flow_run_id``.
Returns True when the run is now Cancelling or Cancelled, False when it had already
finished. With ``cascade`` (the default) the run's unfinished children are cancelled too.
"""

from __future__ import annotations

from typing import Any

from headwater.core.task import Task
from headwater.tasks.headwater._common import context_value, task_logger
from headwater.tasks.headwater._handles import ChildRun
from headwater.utilities.tasks import defaults_from_attrs

__all__ = ["CancelFlowRun"]


class CancelFlowRun(Task):
    """Cancel a flow run.

    Args:
        flow_run_id: the run to cancel (default: the current run from context).
        cascade: also cancel the run's unfinished child runs, recursively.
        **kwargs: keyword arguments for :class:`~headwater.core.task.Task`.
    """

    def __init__(self, flow_run_id: str | None = None, cascade: bool = True, **kwargs: Any) -> None:
        self.flow_run_id = flow_run_id
        self.cascade = cascade
        super().__init__(**kwargs)

    @defaults_from_attrs("flow_run_id", "cascade")
    def run(  # type: ignore[override]
        self, flow_run_id: str | None = None, cascade: bool = True
    ) -> bool:
        """Cancel the run.

        Args:
            flow_run_id: the run to cancel; falls back to the context's ``flow_run_id``.
            cascade: also cancel the run's unfinished children.

        Returns:
            True if the run is now Cancelling or Cancelled, False if it had already
            finished.

        Raises:
            ValueError: no run id anywhere, or no such run.
        """
        flow_run_id = flow_run_id or context_value("flow_run_id")
        if not flow_run_id:
            raise ValueError("Can't cancel a flow run without flow run ID.")
        cancelled = ChildRun(str(flow_run_id)).cancel(cascade=bool(cascade))
        task_logger().info(
            "Cancel request for flow run %s: %s",
            flow_run_id,
            "accepted" if cancelled else "the run had already finished",
        )
        return cancelled
