"""RenameFlowRun: rename a flow run, by default the one the task runs in.

Contract: ``run(flow_run_id, flow_run_name)`` takes both from the constructor unless given
at run time; a falsy ``flow_run_id`` falls back to the context's ``flow_run_id``. Returns
the server's answer as a bool: False (not an error) for an unknown run id.
"""

from __future__ import annotations

from typing import Any

from headwater.core.task import Task
from headwater.tasks.headwater._common import context_value
from headwater.tasks.headwater._handles import ChildRun
from headwater.utilities.tasks import defaults_from_attrs

__all__ = ["RenameFlowRun"]


class RenameFlowRun(Task):
    """Rename a flow run.

    Args:
        flow_run_id: the run to rename (default: the current run from context).
        flow_run_name: the new name.
        **kwargs: keyword arguments for :class:`~headwater.core.task.Task`.
    """

    def __init__(
        self, flow_run_id: str | None = None, flow_run_name: str | None = None, **kwargs: Any
    ) -> None:
        self.flow_run_id = flow_run_id
        self.flow_run_name = flow_run_name
        super().__init__(**kwargs)

    @defaults_from_attrs("flow_run_id", "flow_run_name")
    def run(  # type: ignore[override]
        self, flow_run_id: str | None = None, flow_run_name: str | None = None
    ) -> bool:
        """Rename the run.

        Args:
            flow_run_id: the run to rename; falls back to the context's ``flow_run_id``.
            flow_run_name: the new name.

        Returns:
            Whether the server renamed the run.

        Raises:
            ValueError: no run id anywhere, or no new name.
        """
        flow_run_id = flow_run_id or context_value("flow_run_id")
        if not flow_run_id:
            raise ValueError(
                "`flow_run_id` must be explicitly provided or available in the context."
            )
        if flow_run_name is None:
            raise ValueError("Must provide a flow name.")
        return ChildRun(str(flow_run_id)).rename(flow_run_name)
