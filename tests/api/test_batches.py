"""Batched routes: task runs in bulk, task-run states in batches, flow runs in bulk."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from _core_support import Api


async def _running_run(api: Api, **flow: Any) -> dict[str, Any]:
    created = await api.flow(**flow)
    run = await api.run(flow_id=created["id"])
    await api.set_state(run["id"], "Running")
    return run


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_bulk_task_runs_are_created_once_and_returned_in_order(api: Api) -> None:
    run = await _running_run(api, tasks=[{"slug": "a-1", "name": "a"}])
    keys = [{"task_slug": "m-1", "map_index": i, "task_name": "m"} for i in (2, 0, 1)]
    body = {"flow_run_id": run["id"], "task_runs": [{"task_slug": "a-1"}, *keys, keys[0]]}
    rows = await api.call("POST", "/task-runs/bulk", 200, json=body)
    assert [(r["task_slug"], r["map_index"]) for r in rows] == [
        ("a-1", -1),
        ("m-1", 2),
        ("m-1", 0),
        ("m-1", 1),
        ("m-1", 2),
    ]
    assert rows[1]["id"] == rows[4]["id"]
    assert all(r["state_type"] == "Pending" and r["version"] == 1 for r in rows)
    # The flow's own task run existed since the run was created: it is not duplicated.
    again = await api.call("POST", "/task-runs/bulk", 200, json=body)
    assert [r["id"] for r in again] == [r["id"] for r in rows]
    listed = await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]})
    assert len(listed) == 4
    # The single route sees the same rows.
    single = {"flow_run_id": run["id"], "task_slug": "m-1", "map_index": 0}
    assert (await api.call("POST", "/task-runs", 200, json=single))["id"] == rows[2]["id"]
    assert await api.call("POST", "/task-runs/bulk", 200, json={**body, "task_runs": []}) == []


async def test_bulk_task_runs_refuse_bad_input(api: Api) -> None:
    run = await _running_run(api)
    missing = await api.call(
        "POST",
        "/task-runs/bulk",
        404,
        json={"flow_run_id": "nope", "task_runs": [{"task_slug": "x"}]},
    )
    assert "nope" in missing["detail"]
    bad = {"flow_run_id": run["id"], "task_runs": [{"task_slug": "x", "map_index": -2}]}
    await api.call("POST", "/task-runs/bulk", 422, json=bad)
    await api.call("POST", "/task-runs/bulk", 422, json={"flow_run_id": run["id"]})


async def test_concurrent_bulk_creates_make_each_task_run_once(api: Api) -> None:
    run = await _running_run(api)
    body = {
        "flow_run_id": run["id"],
        "task_runs": [{"task_slug": "m", "map_index": i} for i in range(50)],
    }
    answers = await asyncio.gather(
        *(api.client.post("task-runs/bulk", json=body) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5
    ids = {tuple(r["id"] for r in a.json()) for a in answers}
    assert len(ids) == 1
    listed = await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]})
    assert len(listed) == 50


async def test_batched_states_apply_in_order_with_per_item_outcomes(api: Api) -> None:
    run = await _running_run(api)
    body = {
        "flow_run_id": run["id"],
        "task_runs": [{"task_slug": "t", "map_index": i} for i in range(3)],
    }
    a, b, c = (r["id"] for r in await api.call("POST", "/task-runs/bulk", 200, json=body))
    items = [
        {"task_run_id": a, "state": {"type": "Running"}},
        {"task_run_id": b, "state": {"type": "Running"}},
        {"task_run_id": a, "result": _b64(b"value-a")},
        {"task_run_id": a, "state": {"type": "Success", "message": "done"}},
        {"task_run_id": a, "state": {"type": "Running"}},  # finished is final
        {"task_run_id": "missing", "state": {"type": "Running"}},
        {"task_run_id": b, "state": {"type": "Nonsense"}},
        {"task_run_id": c, "state": {"type": "Running"}, "expected_version": 7},
        {"task_run_id": b, "state": {"type": "Failed"}},
        {"task_run_id": c, "result": "not base64!"},
    ]
    answer = await api.call("POST", "/task-runs/states", 200, json={"states": items})
    outcomes = answer["results"]
    assert [(o["task_run_id"], o["status"], o["status_code"]) for o in outcomes] == [
        (a, "accepted", None),
        (b, "accepted", None),
        (a, "accepted", None),
        (a, "accepted", None),
        (a, "rejected", None),
        ("missing", "error", 404),
        (b, "error", 422),
        (c, "error", 409),
        (b, "accepted", None),
        (c, "error", 422),
    ]
    assert outcomes[3]["state"]["type"] == "Success" and outcomes[3]["version"] == 3
    assert "already finished" in outcomes[4]["detail"]
    assert "missing" in outcomes[5]["detail"]
    assert "Nonsense" in outcomes[6]["detail"]
    assert "base64" in outcomes[9]["detail"]
    history = await api.call("GET", f"/task-runs/{a}/states")
    assert [h["state"]["type"] for h in history] == ["Pending", "Running", "Success"]
    assert await api.call("GET", f"/task-runs/{a}/result") == b"value-a"
    assert (await api.call("GET", f"/task-runs/{b}"))["state_type"] == "Failed"
    current = await api.call("GET", f"/task-runs/{c}")
    assert current["state_type"] == "Pending" and current["run_count"] == 0
    await api.call("GET", f"/task-runs/{c}/result", 404)


async def test_batched_states_meet_the_same_rules_as_single_writes(api: Api) -> None:
    run = await _running_run(api)
    body = {"flow_run_id": run["id"], "task_runs": [{"task_slug": "t"}, {"task_slug": "u"}]}
    t, u = (r["id"] for r in await api.call("POST", "/task-runs/bulk", 200, json=body))
    cached_inputs = {"x": {"type": "Result", "location": "somewhere"}}
    first = [
        {"task_run_id": t, "state": {"type": "Running"}},
        {"task_run_id": t, "state": {"type": "Failed", "cached_inputs": cached_inputs}},
        {"task_run_id": t, "state": {"type": "Retrying"}},
    ]
    outcomes = (await api.call("POST", "/task-runs/states", 200, json={"states": first}))["results"]
    assert [o["status"] for o in outcomes] == ["accepted"] * 3
    # A retry keeps the inputs of the failed attempt, as with single writes.
    assert outcomes[2]["state"]["cached_inputs"] == cached_inputs
    await api.call("POST", f"/flow-runs/{run['id']}/cancel", 200, json={})
    late = [{"task_run_id": u, "state": {"type": "Running"}}]
    outcome = (await api.call("POST", "/task-runs/states", 200, json={"states": late}))["results"]
    # The run is being cancelled (Cancelling): a task run may no longer start.
    assert outcome[0]["status"] == "rejected"
    assert "Running" in outcome[0]["detail"]
    assert (await api.call("GET", f"/task-runs/{u}"))["state_type"] == "Pending"


async def test_batched_results_over_the_limit_are_refused_per_item(api: Api) -> None:
    run = await _running_run(api)
    body = {"flow_run_id": run["id"], "task_runs": [{"task_slug": "t"}, {"task_slug": "u"}]}
    t, u = (r["id"] for r in await api.call("POST", "/task-runs/bulk", 200, json=body))
    big = b"x" * (600 * 1024)  # two of them exceed the test server's 1 MiB request limit
    items = [
        {"task_run_id": t, "result": _b64(b"small")},
        {"task_run_id": u, "result": _b64(big)},
    ]
    outcomes = (await api.call("POST", "/task-runs/states", 200, json={"states": items}))["results"]
    assert [o["status"] for o in outcomes] == ["accepted", "accepted"]
    assert await api.call("GET", f"/task-runs/{u}/result") == big
    too_many = [{"task_run_id": u, "result": _b64(big)}] * 2
    await api.call("POST", "/task-runs/states", 413, json={"states": too_many})
    await api.call("POST", "/task-runs/states", 422, json={"states": [{"state": {"type": "X"}}]})
    assert (await api.call("POST", "/task-runs/states", 200, json={"states": []}))["results"] == []


async def test_bulk_flow_runs_keep_idempotency_keys_per_run(api: Api) -> None:
    flow = await api.flow(
        parameters=[{"name": "x", "default": 1, "required": False}],
        tasks=[{"slug": "a-1", "name": "a"}],
    )
    parent = await _running_run(api)
    specs = [
        {"flow_id": flow["id"], "idempotency_key": "k-0", "parameters": {"x": 10}},
        {"flow_id": flow["id"], "idempotency_key": "k-1", "parent_flow_run_id": parent["id"]},
        {"flow_group_id": flow["flow_group_id"], "idempotency_key": "k-0"},
        {"flow_id": flow["id"], "name": "no-key"},
    ]
    runs = await api.call("POST", "/flow-runs/bulk", 201, json={"flow_runs": specs})
    assert len(runs) == 4
    assert runs[0]["id"] == runs[2]["id"]  # the same key within the request
    assert runs[0]["parameters"] == {"x": 10}
    assert runs[1]["parent_flow_run_id"] == parent["id"]
    assert runs[3]["name"] == "no-key"
    assert all(r["state_type"] == "Scheduled" for r in runs)
    # Each new run got its flow's task run, as a single create gives it.
    task_runs = await api.call("GET", "/task-runs", params={"flow_run_id": runs[1]["id"]})
    assert [t["task_slug"] for t in task_runs] == ["a-1"]
    # Repeating the request creates nothing new; single creates agree on the keys.
    again = await api.call("POST", "/flow-runs/bulk", 201, json={"flow_runs": specs[:3]})
    assert [r["id"] for r in again] == [r["id"] for r in runs[:3]]
    single = await api.run(200, flow_id=flow["id"], idempotency_key="k-1")
    assert single["id"] == runs[1]["id"]
    listed = await api.call("GET", "/flow-runs", params={"flow_id": flow["id"]})
    assert len(listed) == 3


async def test_bulk_flow_runs_are_all_or_nothing(api: Api) -> None:
    flow = await api.flow(parameters=[{"name": "x", "required": True}])
    specs = [
        {"flow_id": flow["id"], "idempotency_key": "ok", "parameters": {"x": 1}},
        {"flow_id": flow["id"], "idempotency_key": "bad", "parameters": {"y": 1}},
    ]
    error = await api.call("POST", "/flow-runs/bulk", 422, json={"flow_runs": specs})
    assert error["detail"].startswith("flow_runs[1]:") and "'y'" in error["detail"]
    assert await api.call("GET", "/flow-runs", params={"flow_id": flow["id"]}) == []
    missing = [{"flow_id": "nope"}]
    error = await api.call("POST", "/flow-runs/bulk", 404, json={"flow_runs": missing})
    assert error["detail"].startswith("flow_runs[0]:") and "nope" in error["detail"]
    await api.call("POST", "/flow-runs/bulk", 422, json={"flow_runs": []})
