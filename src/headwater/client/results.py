"""Client methods for task results kept in the server's result store."""

from __future__ import annotations

from headwater.client._base import route
from headwater.client._resource import Resource

__all__ = ["ResultsMixin"]

_UPLOAD = route("PUT", "/task-runs/{task_run_id}/result")
_DOWNLOAD = route("GET", "/task-runs/{task_run_id}/result")


class ResultsMixin(Resource):
    """Upload and download serialized task results."""

    def upload_result(self, task_run_id: str, data: bytes) -> str:
        """Store a task run's serialized result on the server.

        Args:
            task_run_id: the task run.
            data: the serialized value.

        Returns:
            The result's location (``task-runs/<id>/result``).

        Raises:
            ClientError: HTTP 413 when the value exceeds the server's size limit.
        """
        headers = {"Content-Type": "application/octet-stream"}
        answer = self._transport.json(
            _UPLOAD, {"task_run_id": task_run_id}, content=bytes(data), headers=headers
        )
        return str(answer["location"])

    def download_result(self, task_run_id: str) -> bytes:
        """The serialized result stored for a task run.

        Raises:
            ObjectNotFound: the task run or its result does not exist.
        """
        response = self._transport.call(_DOWNLOAD, {"task_run_id": task_run_id})
        return response.content
