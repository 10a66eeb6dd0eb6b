"""Task runs (get-or-create, queries), logs, results and agents."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from _core_support import Api


async def _running_run(api: Api) -> dict[str, Any]:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    await api.set_state(run["id"], "Running")
    return run


async def test_task_run_get_or_create_and_queries(api: Api) -> None:
    run = await _running_run(api)
    body = {"flow_run_id": run["id"], "task_slug": "add-1", "task_name": "add"}
    created = await api.call("POST", "/task-runs", 201, json=body)
    assert created["state_type"] == "Pending" and created["map_index"] == -1
    assert created["task_name"] == "add" and created["version"] == 1
    again = await api.call("POST", "/task-runs", 200, json=body)
    assert again["id"] == created["id"]
    for index in (1, 0):
        await api.call("POST", "/task-runs", 201, json={**body, "map_index": index})
    await api.set_task_state(created["id"], "Running")
    listed = await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]})
    assert [t["map_index"] for t in listed] == [-1, 0, 1]
    assert len(await api.call("GET", "/task-runs", params={"map_index": 0})) == 1
    running = await api.call("GET", "/task-runs", params={"state": "Running"})
    assert [t["id"] for t in running] == [created["id"]]
    assert len(await api.call("GET", "/task-runs", params={"task_slug": "add-1", "limit": 2})) == 2
    assert (await api.call("GET", f"/task-runs/{created['id']}"))["state_type"] == "Running"
    await api.call("GET", "/task-runs/missing", 404)
    await api.call("GET", "/task-runs/missing/states", 404)
    missing = await api.call("POST", "/task-runs", 404, json={**body, "flow_run_id": "nope"})
    assert "nope" in missing["detail"]
    await api.call("POST", "/task-runs", 422, json={**body, "map_index": -2})


async def test_concurrent_get_or_create_makes_one_task_run(api: Api) -> None:
    run = await _running_run(api)
    body = {"flow_run_id": run["id"], "task_slug": "x", "map_index": 3}
    responses = await asyncio.gather(*(api.client.post("task-runs", json=body) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_logs_insert_and_query(api: Api) -> None:
    run = await _running_run(api)
    other = await _running_run(api)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    logs = [
        {
            "flow_run_id": run["id"],
            "message": "second",
            "timestamp": (t0 + dt.timedelta(seconds=2)).isoformat(),
        },
        {"flow_run_id": run["id"], "message": "first", "timestamp": t0.isoformat(), "level": 40},
        {
            "flow_run_id": run["id"],
            "task_run_id": "tr",
            "message": "task",
            "name": "x.y",
            "timestamp": (t0 + dt.timedelta(seconds=3)).isoformat(),
            "info": {"k": 1},
        },
        {"flow_run_id": other["id"], "message": "elsewhere", "level": "warning"},
    ]
    assert (await api.call("POST", "/logs", json={"logs": logs}))["inserted"] == 4
    read = await api.call("GET", "/logs", params={"flow_run_id": run["id"]})
    assert [entry["message"] for entry in read] == ["first", "second", "task"]
    assert read[0]["level"] == "ERROR" and read[1]["level"] == "INFO"
    assert read[2]["name"] == "x.y" and read[2]["info"] == {"k": 1}
    by_task = await api.call("GET", "/logs", params={"flow_run_id": run["id"], "task_run_id": "tr"})
    assert [e["message"] for e in by_task] == ["task"]
    window = await api.call(
        "GET",
        "/logs",
        params={
            "flow_run_id": run["id"],
            "after": (t0 + dt.timedelta(seconds=1)).isoformat(),
            "before": (t0 + dt.timedelta(seconds=2)).isoformat(),
        },
    )
    assert [e["message"] for e in window] == ["second"]
    after_id = max(e["id"] for e in read[:2])
    resumed = await api.call(
        "GET", "/logs", params={"flow_run_id": run["id"], "after_id": after_id}
    )
    assert [e["message"] for e in resumed] == ["task"]
    assert len(await api.call("GET", "/logs", params={"flow_run_id": run["id"], "limit": 1})) == 1
    other_logs = await api.call("GET", "/logs", params={"flow_run_id": other["id"]})
    assert other_logs[0]["level"] == "WARNING"
    bad = await api.call(
        "POST", "/logs", 404, json={"logs": [{"flow_run_id": "x", "message": "m"}]}
    )
    assert "x" in bad["detail"]
    await api.call("POST", "/logs", 422, json={"logs": [{"flow_run_id": run["id"]}]})
    assert (await api.call("POST", "/logs", json={"logs": []}))["inserted"] == 0


async def test_results_upload_download_and_limits(api: Api, app: Any) -> None:
    run = await _running_run(api)
    task_run = await api.call(
        "POST", "/task-runs", 201, json={"flow_run_id": run["id"], "task_slug": "t"}
    )
    path = f"/task-runs/{task_run['id']}/result"
    await api.call("GET", path, 404)
    stored = await api.call("PUT", path, content=b"\x00payload")
    assert task_run["id"] in stored["location"]
    assert await api.call("GET", path) == b"\x00payload"
    await api.call("PUT", path, content=b"second")
    assert await api.call("GET", path) == b"second"
    limit = app.state.settings.max_result_bytes
    too_big = await api.call("PUT", path, 413, content=b"x" * (limit + 1))
    assert str(limit) in too_big["detail"]

    async def chunks() -> Any:
        for _ in range(3):
            yield b"y" * (limit // 2)

    streamed = await api.call("PUT", path, 413, content=chunks())
    assert "larger" in streamed["detail"]
    await api.call("PUT", "/task-runs/missing/result", 404, content=b"x")
    await api.call("GET", "/task-runs/missing/result", 404)


async def test_agents_register_reuse_and_list(api: Api) -> None:
    first = await api.call(
        "POST", "/agents", json={"name": "a", "type": "local", "labels": ["y", "x"]}
    )
    assert first["labels"] == ["x", "y"] and first["last_seen"] is not None
    same = await api.call(
        "POST", "/agents", json={"name": "a", "type": "local", "labels": ["x", "y"]}
    )
    assert same["id"] == first["id"]
    different = await api.call("POST", "/agents", json={"name": "a", "type": "local", "labels": []})
    assert different["id"] != first["id"]
    unnamed = await api.call("POST", "/agents", json={"type": "local"})
    assert unnamed["name"] == "local"
    listed = await api.call("GET", "/agents")
    assert {a["id"] for a in listed} == {first["id"], different["id"], unnamed["id"]}


async def test_touch_agent_and_read_models(app: Any, api: Api) -> None:
    from headwater.server.models import agents, flow_runs, logs

    agent = await api.call("POST", "/agents", json={"type": "local"})
    run = await _running_run(api)
    async with app.state.db.session() as session:
        assert await agents.touch_agent(session, agent["id"]) is True
        assert await agents.touch_agent(session, "missing") is False
        await session.commit()
    async with app.state.db.read_session() as session:
        found = await flow_runs.read_flow_run(session, run["id"])
        assert found is not None and found.state_type == "Running"
        assert await flow_runs.read_flow_run(session, "missing") is None
        history = await flow_runs.read_flow_run_states(session, run["id"])
        assert [h["state"]["type"] for h in history] == ["Scheduled", "Running"]
        assert await logs.read_logs(session, flow_run_id=run["id"]) == []


async def test_concurrent_identical_registrations_make_one_agent(api: Api) -> None:
    body = {"name": "twin", "type": "local", "labels": ["a"]}
    responses = await asyncio.gather(*(api.client.post("agents", json=body) for _ in range(6)))
    assert len({r.json()["id"] for r in responses}) == 1
