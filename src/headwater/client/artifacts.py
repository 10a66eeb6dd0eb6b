"""Client methods for artifacts (``/artifacts``), under Prefect 1's names."""

from __future__ import annotations

from typing import Any

from headwater.client._base import route
from headwater.client._resource import Resource
from headwater.exceptions import ObjectNotFound

__all__ = ["ArtifactsMixin"]

_CREATE = route("POST", "/artifacts")
_LIST = route("GET", "/artifacts")
_READ = route("GET", "/artifacts/{artifact_id}")
_UPDATE = route("PATCH", "/artifacts/{artifact_id}", idempotent=True)
_DELETE = route("DELETE", "/artifacts/{artifact_id}")


class ArtifactsMixin(Resource):
    """Create, update, delete and list task-run artifacts."""

    def create_task_run_artifact(
        self, task_run_id: str, kind: str, data: dict[str, Any], tenant_id: str | None = None
    ) -> str:
        """Attach an artifact to a task run.

        Args:
            task_run_id: the task run.
            kind: ``"link"`` or ``"markdown"``.
            data: ``{"link": url}`` or ``{"markdown": text}``.
            tenant_id: accepted for Prefect 1 compatibility and ignored.

        Returns:
            The new artifact's id.
        """
        del tenant_id
        body = {"task_run_id": task_run_id, "kind": kind, "data": data}
        result: dict[str, Any] = self._transport.json(_CREATE, json_body=body)
        return str(result["id"])

    def create_flow_run_artifact(self, flow_run_id: str, kind: str, data: dict[str, Any]) -> str:
        """Attach an artifact to a flow run without a task run; returns its id."""
        body = {"flow_run_id": flow_run_id, "kind": kind, "data": data}
        result: dict[str, Any] = self._transport.json(_CREATE, json_body=body)
        return str(result["id"])

    def update_task_run_artifact(self, task_run_artifact_id: str, data: dict[str, Any]) -> bool:
        """Replace an artifact's data (its kind stays); True when done.

        Raises:
            ObjectNotFound: no such artifact.
        """
        self._transport.json(
            _UPDATE, {"artifact_id": task_run_artifact_id}, json_body={"data": data}
        )
        return True

    def delete_task_run_artifact(self, task_run_artifact_id: str) -> bool:
        """Delete an artifact; False when it did not exist."""
        try:
            self._transport.call(_DELETE, {"artifact_id": task_run_artifact_id})
        except ObjectNotFound:
            return False
        return True

    def get_artifact(self, artifact_id: str) -> dict[str, Any]:
        """One artifact: ``{id, flow_run_id, task_run_id, kind, data, created, updated}``."""
        result: dict[str, Any] = self._transport.json(_READ, {"artifact_id": artifact_id})
        return result

    def get_flow_run_artifacts(
        self, flow_run_id: str, kind: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """A flow run's artifacts (of all its task runs) in creation order."""
        params = {"flow_run_id": flow_run_id, "kind": kind, "limit": limit}
        result: list[dict[str, Any]] = self._transport.json(_LIST, params=params)
        return result

    def get_task_run_artifacts(
        self, task_run_id: str, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """A task run's artifacts in creation order."""
        params = {"task_run_id": task_run_id, "kind": kind}
        result: list[dict[str, Any]] = self._transport.json(_LIST, params=params)
        return result
