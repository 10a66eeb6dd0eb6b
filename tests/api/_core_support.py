"""Helpers of the in-process API tests (kept out of conftest so that test modules can
import them by a name no other test directory uses)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

__all__ = ["TABLES", "Api"]


class Api:
    """Small helpers over the client that check status codes."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    async def project(self, name: str | None = None) -> dict[str, Any]:
        name = name or f"project-{uuid.uuid4().hex[:8]}"
        result: dict[str, Any] = await self.call("POST", "/projects", 201, json={"name": name})
        return result

    async def flow(
        self,
        name: str = "flow",
        project_name: str | None = None,
        parameters: list[dict[str, Any]] | None = None,
        tasks: list[dict[str, Any]] | None = None,
        expect: int = 201,
        **extra: Any,
    ) -> dict[str, Any]:
        if project_name is None:
            project_name = (await self.project())["name"]
        body = {
            "name": name,
            "project_name": project_name,
            "serialized_flow": {"parameters": parameters or [], "tasks": tasks or []},
            **extra,
        }
        result: dict[str, Any] = await self.call("POST", "/flows", expect, json=body)
        return result

    async def run(self, expect: int = 201, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", "/flow-runs", expect, json=body)
        return result

    async def set_state(
        self, flow_run_id: str, type_: str, expect: int = 200, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"state": {"type": type_, **fields.pop("state", {})}, **fields}
        result: dict[str, Any] = await self.call(
            "POST", f"/flow-runs/{flow_run_id}/state", expect, json=body
        )
        return result

    async def set_task_state(
        self, task_run_id: str, type_: str, expect: int = 200, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"state": {"type": type_, **fields.pop("state", {})}, **fields}
        result: dict[str, Any] = await self.call(
            "POST", f"/task-runs/{task_run_id}/state", expect, json=body
        )
        return result


#: Every table, for emptying the shared PostgreSQL database before a test (TRUNCATE).
TABLES = (
    "hook_deliveries, hooks, kv_store, artifacts, "
    "task_run_tags, task_tag_limits, flow_concurrency_limits, "
    "agents, logs, task_run_states, task_runs, flow_run_states, flow_run_labels, flow_runs, "
    "flows, flow_groups, projects"
)
