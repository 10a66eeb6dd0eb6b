"""Client methods for logs (``/logs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from headwater.client._base import route
from headwater.client._resource import Resource

__all__ = ["LogsMixin"]

_WRITE = route("POST", "/logs")
_READ = route("GET", "/logs")


class LogsMixin(Resource):
    """Write and read run logs."""

    def write_run_logs(self, logs: list[dict[str, Any]]) -> None:
        """Store log records.

        Args:
            logs: dicts with ``flow_run_id``, optional ``task_run_id``, ``timestamp``,
                ``level`` (name), ``name`` (logger), ``message`` and optional ``info``.
        """
        if not logs:
            return
        self._transport.json(_WRITE, json_body={"logs": list(logs)})

    def get_logs(
        self,
        flow_run_id: str,
        task_run_id: str | None = None,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        limit: int | None = None,
        after_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """A flow run's logs in time order.

        Args:
            flow_run_id: the run.
            task_run_id: only this task run's logs.
            after: only logs after this time.
            before: only logs before this time.
            limit: at most this many.
            after_id: only logs with an id above this one (paging).
        """
        params = {
            "flow_run_id": flow_run_id,
            "task_run_id": task_run_id,
            "after": after,
            "before": before,
            "limit": limit,
            "after_id": after_id,
        }
        result: list[dict[str, Any]] = self._transport.json(_READ, params=params)
        return result
