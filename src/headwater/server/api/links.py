"""OpenAPI links: which routes take the ids that other routes create.

Contract: :func:`add_links` adds ``links`` to the success responses of the routes that
create (or hand out) projects, flows, flow runs, task runs and agents, naming the routes
that use their ids, so that tools following links (schemathesis' stateful phase, client
generators) can chain real calls: register a flow, run it, set its states, create task
runs, claim it with an agent. Targets are named by method and path and resolved to the
document's ``operationId``; a target the document lacks is left out. A link with a
``requestBody`` gives a complete valid body (marked ``x-schemathesis: merge_body false``
so that fuzzers send it as is).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LINKS", "add_links"]

_RUN_ID = {"flow_run_id": "$response.body#/id"}
_TASK_RUN_ID = {"task_run_id": "$response.body#/id"}

# (method, path, status) of a producer -> [(link name, method, path, parameters, body)]
_Link = tuple[str, str, str, dict[str, str], dict[str, Any] | None]
LINKS: dict[tuple[str, str, str], list[_Link]] = {
    ("post", "/api/projects", "201"): [
        ("ReadProject", "get", "/api/projects/{project_id}", {"project_id": "$response.body#/id"}, None),
        ("ReadProjectByName", "get", "/api/projects/by-name/{name}", {"name": "$response.body#/name"}, None),
        ("RegisterFlow", "post", "/api/flows", {}, {"project_name": "$response.body#/name", "name": "linked", "serialized_flow": {}}),
    ],
    ("post", "/api/flows", "201"): [
        ("ReadFlow", "get", "/api/flows/{flow_id}", {"flow_id": "$response.body#/id"}, None),
        ("ArchiveFlow", "post", "/api/flows/{flow_id}/archive", {"flow_id": "$response.body#/id"}, None),
        ("ReadFlowGroup", "get", "/api/flow-groups/{flow_group_id}", {"flow_group_id": "$response.body#/flow_group_id"}, None),
        ("UpdateFlowGroup", "patch", "/api/flow-groups/{flow_group_id}", {"flow_group_id": "$response.body#/flow_group_id"}, None),
        ("CreateFlowRun", "post", "/api/flow-runs", {}, {"flow_id": "$response.body#/id"}),
    ],
    ("post", "/api/flow-runs", "201"): [
        ("ReadFlowRun", "get", "/api/flow-runs/{flow_run_id}", _RUN_ID, None),
        ("SetFlowRunState", "post", "/api/flow-runs/{flow_run_id}/state", _RUN_ID, None),
        ("StartFlowRun", "post", "/api/flow-runs/{flow_run_id}/state", _RUN_ID, {"state": {"type": "Running"}}),
        ("ReadFlowRunStates", "get", "/api/flow-runs/{flow_run_id}/states", _RUN_ID, None),
        ("RenameFlowRun", "post", "/api/flow-runs/{flow_run_id}/name", _RUN_ID, None),
        ("LabelFlowRun", "post", "/api/flow-runs/{flow_run_id}/labels", _RUN_ID, None),
        ("CancelFlowRun", "post", "/api/flow-runs/{flow_run_id}/cancel", _RUN_ID, None),
        ("RestartFlowRun", "post", "/api/flow-runs/{flow_run_id}/restart", _RUN_ID, None),
        ("HeartbeatFlowRun", "post", "/api/flow-runs/{flow_run_id}/heartbeat", _RUN_ID, None),
        ("ReadChildren", "get", "/api/flow-runs/{flow_run_id}/children", _RUN_ID, None),
        ("WaitForFlowRun", "get", "/api/flow-runs/{flow_run_id}/wait", _RUN_ID, None),
        ("DeleteFlowRun", "delete", "/api/flow-runs/{flow_run_id}", _RUN_ID, None),
        ("CreateTaskRun", "post", "/api/task-runs", {}, {"flow_run_id": "$response.body#/id", "task_slug": "linked-1"}),
        ("WriteLogs", "post", "/api/logs", {}, {"logs": [{"flow_run_id": "$response.body#/id", "level": "INFO", "name": "linked", "message": "linked"}]}),
        ("ReadLogs", "get", "/api/logs", {"flow_run_id": "$response.body#/id"}, None),
        ("ReadTaskRuns", "get", "/api/task-runs", {"flow_run_id": "$response.body#/id"}, None),
        ("CreateChildRun", "post", "/api/flow-runs", {}, {"parent_flow_run_id": "$response.body#/id", "flow_id": "$response.body#/flow_id"}),
    ],
    ("post", "/api/task-runs", "201"): [
        ("ReadTaskRun", "get", "/api/task-runs/{task_run_id}", _TASK_RUN_ID, None),
        ("SetTaskRunState", "post", "/api/task-runs/{task_run_id}/state", _TASK_RUN_ID, None),
        ("ReadTaskRunStates", "get", "/api/task-runs/{task_run_id}/states", _TASK_RUN_ID, None),
        ("UploadResult", "put", "/api/task-runs/{task_run_id}/result", _TASK_RUN_ID, None),
        ("DownloadResult", "get", "/api/task-runs/{task_run_id}/result", _TASK_RUN_ID, None),
        ("ReadParentFlowRun", "get", "/api/flow-runs/{flow_run_id}", {"flow_run_id": "$response.body#/flow_run_id"}, None),
    ],
    ("post", "/api/agents", "200"): [
        ("ClaimFlowRuns", "post", "/api/agents/{agent_id}/claim", {"agent_id": "$response.body#/id"}, None),
    ],
    ("post", "/api/agents/{agent_id}/claim", "200"): [
        ("ReadClaimedRun", "get", "/api/flow-runs/{flow_run_id}", {"flow_run_id": "$response.body#/flow_runs/0/id"}, None),
        ("RunClaimedRun", "post", "/api/flow-runs/{flow_run_id}/state", {"flow_run_id": "$response.body#/flow_runs/0/id"}, {"state": {"type": "Running"}}),
    ],
    ("post", "/api/flow-runs/{flow_run_id}/restart", "200"): [
        ("ReadRestartedRun", "get", "/api/flow-runs/{flow_run_id}", {"flow_run_id": "$response.body#/flow_run/id"}, None),
    ],
}  # fmt: skip


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """Add the :data:`LINKS` to an OpenAPI ``document`` (in place); returns it."""
    paths: dict[str, Any] = document.get("paths", {})
    operation_ids = {
        (method, path): op.get("operationId")
        for path, ops in paths.items()
        for method, op in ops.items()
        if isinstance(op, dict)
    }
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        found: dict[str, Any] = response.setdefault("links", {})
        for name, target_method, target_path, parameters, body in links:
            operation_id = operation_ids.get((target_method, target_path))
            if not operation_id:
                continue
            link: dict[str, Any] = {"operationId": operation_id}
            if parameters:
                link["parameters"] = dict(parameters)
            if body is not None:
                # The body given is a whole valid request: tools that would merge it
                # into a generated one are told not to.
                link["requestBody"] = body
                link["x-schemathesis"] = {"merge_body": False}
            found[name] = link
    return document
