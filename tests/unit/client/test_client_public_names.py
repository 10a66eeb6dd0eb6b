"""The public names of the client, storage and run-config packages are pinned."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "headwater.client": [
        "DEFAULT_API_URL",
        "ROUTES",
        "Client",
        "FlowRunInfoResult",
        "Route",
        "SSEParser",
        "Secret",
        "TaskRunInfoResult",
        "parse_sse",
        "resolve_api_key",
        "resolve_api_url",
    ],
    "headwater.storage": ["Local", "Module", "Storage", "storage_from_ref"],
    "headwater.run_configs": ["LocalRun", "RunConfig", "UniversalRun", "run_config_from_ref"],
}

CLIENT_METHODS = [
    "create_project",
    "get_project",
    "register",
    "get_flow",
    "get_flow_group",
    "query_flows",
    "create_flow_run",
    "get_flow_run",
    "get_flow_run_info",
    "query_flow_runs",
    "set_flow_run_name",
    "set_flow_run_labels",
    "cancel_flow_run",
    "restart_flow_run",
    "delete_flow_run",
    "set_flow_run_state",
    "get_flow_run_states",
    "update_flow_run_heartbeat",
    "get_flow_run_children",
    "wait_for_flow_run",
    "stream_flow_run_events",
    "get_or_create_task_run",
    "get_task_run_info",
    "get_task_run",
    "query_task_runs",
    "set_task_run_state",
    "upload_result",
    "download_result",
    "write_run_logs",
    "get_logs",
    "register_agent",
    "claim_flow_runs",
    "get_agents",
]


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC[module_name])
    for name in module.__all__:
        assert hasattr(module, name), name


def test_client_has_every_contract_method() -> None:
    from headwater import Client

    missing = [name for name in CLIENT_METHODS if not callable(getattr(Client, name, None))]
    assert missing == []
