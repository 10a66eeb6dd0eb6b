"""Resumption: Lazarus after a lost process, and the user's restart of a failed run.

Both reset what must run again (failed, cancelled, running, Mapped parents), keep finished
task runs with their results, and schedule the run again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _core_support import Api
from _push_support import Live, live, until

FAST = {
    "reaper_interval": 0.05,
    "heartbeat_timeout": 1.0,
    "submitted_timeout": 30.0,
    "late_runs_interval": 0,
    "max_resurrections": 2,
}
_RESULT = {"type": "ServerResult", "location": "x", "serializer": {"type": "PickleSerializer"}}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live(request.param, **FAST) as srv:
        yield srv


async def _task_runs(call: Any, run_id: str, states: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Create one task run per slug and drive it to the given state; slug -> id."""
    ids: dict[str, str] = {}
    for slug, final in states.items():
        task_run = await call("POST", "/task-runs", json={"flow_run_id": run_id, "task_slug": slug})
        ids[slug] = task_run["id"]
        path = f"/task-runs/{task_run['id']}/state"
        await call("POST", path, json={"state": {"type": "Running"}})
        if final["type"] != "Running":
            await call("POST", path, json={"state": final})
        # A sign of life, as a flow-run process gives: the run is not lost while set up.
        await call("POST", f"/flow-runs/{run_id}/heartbeat")
    return ids


_MIXED = {
    "done": {"type": "Success", "result": _RESULT},
    "cached": {"type": "Cached", "result": _RESULT},
    "skipped": {"type": "Skipped"},
    "unsaved": {"type": "Success"},  # no stored result: must run again
    "broken": {"type": "Failed", "message": "boom"},
    "busy": {"type": "Running"},
    "mapped": {"type": "Mapped", "n_map_states": 2},
}
_KEPT = {"done", "cached", "skipped"}


async def test_lazarus_resumes_a_lost_run_keeping_finished_task_runs(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Running"})
    ids = await _task_runs(server.call, run["id"], _MIXED)

    async def resumed() -> dict[str, Any] | None:
        current: dict[str, Any] = await server.call("GET", f"/flow-runs/{run['id']}")
        return current if current["state_type"] == "Scheduled" else None

    current = await until(resumed)
    assert current["times_resurrected"] == 1
    assert "Lazarus" in current["state_message"] and "attempt 1 of 2" in current["state_message"]
    assert current["end_time"] is None
    for slug, task_run_id in ids.items():
        task_run = await server.call("GET", f"/task-runs/{task_run_id}")
        expected = _MIXED[slug]["type"] if slug in _KEPT else "Pending"
        assert task_run["state_type"] == expected, slug
    logs = [log["message"] for log in await server.logs(run["id"])]
    assert any("3 finished task run(s) keep their results; 4 run again" in m for m in logs)

    # Lost twice more: the second resurrection is the last; then it fails, saying why.
    for _ in range(2):
        await server.set_state(run["id"], {"type": "Running"})

        async def moved_on() -> dict[str, Any] | None:
            current: dict[str, Any] = await server.call("GET", f"/flow-runs/{run['id']}")
            return current if current["state_type"] in ("Scheduled", "Failed") else None

        current = await until(moved_on)
    assert current["state_type"] == "Failed"
    assert current["times_resurrected"] == 2
    assert "already rescheduled 2 time(s)" in current["state_message"]
    assert "limit is 2" in current["state_message"]


async def test_lazarus_respects_the_flow_group_setting(server: Live) -> None:
    flow = await server.flow()
    from headwater.server.database import orm

    async with server.app.state.db.session() as session:
        group = await session.get(orm.FlowGroup, flow["flow_group_id"])
        group.settings = {"lazarus_enabled": False}
        await session.commit()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Running"})

    async def failed() -> dict[str, Any] | None:
        current: dict[str, Any] = await server.call("GET", f"/flow-runs/{run['id']}")
        return current if current["state_type"] == "Failed" else None

    current = await until(failed)
    assert current["times_resurrected"] == 0


async def test_restart_resets_failed_task_runs_and_keeps_finished_ones(api: Api) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    await api.set_state(run["id"], "Running")

    async def call(method: str, path: str, **kw: Any) -> Any:
        response = await api.client.request(method, path.lstrip("/"), **kw)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    ids = await _task_runs(call, run["id"], _MIXED)
    # Not failed yet: no restart.
    answer = await api.call("POST", f"/flow-runs/{run['id']}/restart", 409)
    assert "only a failed or cancelled flow run can be restarted" in answer["detail"]
    await api.set_state(run["id"], "Failed", state={"message": "task broken failed"})
    answer = await api.call("POST", f"/flow-runs/{run['id']}/restart", 200)
    assert answer["flow_run"]["state_type"] == "Scheduled"
    assert answer["flow_run"]["times_resurrected"] == 0
    assert sorted(answer["kept"]) == sorted(ids[s] for s in _KEPT)
    assert sorted(answer["reset"]) == sorted(ids[s] for s in ids if s not in _KEPT)
    for slug, task_run_id in ids.items():
        task_run = await api.call("GET", f"/task-runs/{task_run_id}")
        assert task_run["state_type"] == (_MIXED[slug]["type"] if slug in _KEPT else "Pending")
    # A restarted run can run: Submitted by a claim, then Running, and task runs again.
    agent = await api.call("POST", "/agents", json={"name": "a", "type": "T", "labels": []})
    got = await api.call("POST", f"/agents/{agent['id']}/claim", json={"timeout": 0, "limit": 1})
    assert [r["id"] for r in got["flow_runs"]] == [run["id"]]
    await api.set_state(run["id"], "Running")
    await api.set_task_state(ids["broken"], "Running")
    await api.set_task_state(ids["broken"], "Success")
    history = await api.call("GET", f"/flow-runs/{run['id']}/states")
    assert [h["state"]["type"] for h in history][-4:] == [
        "Failed",
        "Scheduled",
        "Submitted",
        "Running",
    ]
    logs = await api.call("GET", "/logs", params={"flow_run_id": run["id"]})
    assert any(log["message"].startswith("Flow run restarted from Failed.") for log in logs)


@pytest.mark.parametrize("state", ["Running", "Success", "Scheduled", "Cancelling"])
async def test_restart_refuses_runs_that_did_not_fail(api: Api, state: str) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    if state in ("Running", "Success", "Cancelling"):
        await api.set_state(run["id"], "Running")
    if state == "Success":
        await api.set_state(run["id"], "Success")
    if state == "Cancelling":
        await api.call("POST", f"/flow-runs/{run['id']}/cancel", json={"cascade": True})
    answer = await api.call("POST", f"/flow-runs/{run['id']}/restart", 409)
    assert f"is {state}" in answer["detail"]
    await api.call("POST", "/flow-runs/no-such-run/restart", 404)


async def test_restart_of_a_cancelled_run(api: Api) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    await api.call("POST", f"/flow-runs/{run['id']}/cancel", json={"cascade": True})
    answer = await api.call("POST", f"/flow-runs/{run['id']}/restart", 200)
    assert answer["flow_run"]["state_type"] == "Scheduled"
    assert answer["kept"] == answer["reset"] == []
