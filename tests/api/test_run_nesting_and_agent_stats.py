"""Runaway protection on the server: the ceiling on parent -> child nesting of flow runs,
and the process counts agents report (``PUT /agents/{id}/stats``, shown by ``GET /agents``).
Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from _core_support import Api

from headwater.server.settings import ServerSettings


async def _chain(api: Api, flow_id: str, length: int) -> list[dict[str, Any]]:
    runs = [await api.run(flow_id=flow_id, name="run-0")]
    for level in range(1, length):
        runs.append(
            await api.run(flow_id=flow_id, name=f"run-{level}", parent_flow_run_id=runs[-1]["id"])
        )
    return runs


async def test_default_ceiling_allows_32_nested_runs_and_refuses_the_33rd(
    api: Api, client: httpx.AsyncClient
) -> None:
    assert ServerSettings().max_run_depth == 32
    flow = await api.flow("recursive")
    runs = await _chain(api, flow["id"], 33)  # a root and 32 levels of children
    deepest = runs[-1]
    answer = await client.post(
        "flow-runs",
        json={"flow_id": flow["id"], "name": "one-too-many", "parent_flow_run_id": deepest["id"]},
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("Flow run nesting too deep: a run of 'recursive' under parent")
    assert "more than 32 ancestor runs" in detail
    assert "HEADWATER_SERVER_MAX_RUN_DEPTH" in detail
    # the chain is named, root first, its middle elided
    assert f"'recursive' run 'run-0' ({runs[0]['id']}) ->" in detail
    assert f"'recursive' run 'run-32' ({deepest['id']})." in detail
    assert "... 25 more ..." in detail
    # nothing was created by the refused request
    children = await api.call("GET", f"/flow-runs/{deepest['id']}/children")
    assert children == []
    listed = await api.call("GET", "/flow-runs", params={"flow_id": flow["id"], "limit": 100})
    assert len(listed) == 33
    # a sibling at an allowed depth is still fine, and a new root always is
    await api.run(flow_id=flow["id"], parent_flow_run_id=runs[-2]["id"])
    await api.run(flow_id=flow["id"])


async def test_ceiling_is_configurable(database_url: str, tmp_path: Any, app: Any) -> None:
    from headwater.server.app import create_app

    settings = dataclasses.replace(app.state.settings, max_run_depth=2)
    small = create_app(settings)
    async with small.router.lifespan_context(small):
        transport = httpx.ASGITransport(app=small)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/") as c:
            api = Api(c)
            flow = await api.flow("shallow")
            runs = await _chain(api, flow["id"], 3)
            refused = await c.post(
                "flow-runs", json={"flow_id": flow["id"], "parent_flow_run_id": runs[-1]["id"]}
            )
            assert refused.status_code == 422
            assert "more than 2 ancestor runs" in refused.json()["detail"]
            # the whole chain is short enough to be listed in full
            assert refused.json()["detail"].count("'shallow' run") == 3


async def test_unknown_parent_is_still_404(api: Api, client: httpx.AsyncClient) -> None:
    flow = await api.flow("orphan")
    answer = await client.post(
        "flow-runs", json={"flow_id": flow["id"], "parent_flow_run_id": "no-such-run"}
    )
    assert answer.status_code == 404
    assert answer.json()["detail"] == "Parent flow run no-such-run not found."


def test_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_SERVER_MAX_RUN_DEPTH", "5")
    assert ServerSettings.from_env().max_run_depth == 5
    monkeypatch.setenv("HEADWATER_SERVER_MAX_RUN_DEPTH", "0")
    with pytest.raises(ValueError, match="HEADWATER_SERVER_MAX_RUN_DEPTH must be at least 1"):
        ServerSettings.from_env()
    monkeypatch.setenv("HEADWATER_SERVER_MAX_RUN_DEPTH", "deep")
    with pytest.raises(ValueError, match="must be an integer"):
        ServerSettings.from_env()


async def test_agent_stats_are_stored_and_listed(api: Api, client: httpx.AsyncClient) -> None:
    agent = await api.call("POST", "/agents", json={"name": "a1", "type": "LocalAgent"})
    assert agent["stats"] is None
    stats = {
        "live_processes": 3,
        "spawned": 10,
        "spawned_last_minute": 4,
        "refused_load_failures": 1,
        "supervised": 3,
        "max_concurrent": None,
    }
    stored = await api.call("PUT", f"/agents/{agent['id']}/stats", json=stats)
    assert {k: stored["stats"][k] for k in stats} == stats
    assert "reported_at" in stored["stats"]
    (listed,) = await api.call("GET", "/agents")
    assert {k: listed["stats"][k] for k in stats} == stats
    # a newer report replaces the old one
    await api.call(
        "PUT",
        f"/agents/{agent['id']}/stats",
        json={**stats, "live_processes": 0, "supervised": 0},
    )
    (listed,) = await api.call("GET", "/agents")
    assert listed["stats"]["live_processes"] == 0


async def test_agent_stats_bad_input(api: Api, client: httpx.AsyncClient) -> None:
    good = {"live_processes": 0, "spawned": 0, "spawned_last_minute": 0}
    missing = await client.put("agents/nobody/stats", json=good)
    assert missing.status_code == 404
    assert "Agent 'nobody' not found" in missing.json()["detail"]
    agent = await api.call("POST", "/agents", json={"name": "a2", "type": "LocalAgent"})
    negative = await client.put(f"agents/{agent['id']}/stats", json={**good, "live_processes": -1})
    assert negative.status_code == 422
    (listed,) = await api.call("GET", "/agents")
    assert listed["stats"] is None
