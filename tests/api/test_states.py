"""Orchestration: state rules, versions, history, derived times, cancellation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from _core_support import Api


async def _run(api: Api, **body: Any) -> dict[str, Any]:
    flow = await api.flow(tasks=[{"slug": "t-1", "name": "t"}])
    return await api.run(flow_id=flow["id"], **body)


async def _task_run(api: Api, flow_run_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await api.call(
        "POST", "/task-runs", 200, json={"flow_run_id": flow_run_id, "task_slug": "t-1"}
    )
    return result


async def test_lifecycle_history_and_times(api: Api) -> None:
    run = await _run(api)
    submitted = await api.set_state(run["id"], "Submitted", agent_id="agent-1")
    assert submitted["status"] == "accepted" and submitted["version"] == 2
    after = await api.call("GET", f"/flow-runs/{run['id']}")
    assert after["agent_id"] == "agent-1" and after["heartbeat"] is not None
    running = await api.set_state(run["id"], "Running", state={"message": "go"})
    assert running["state"]["message"] == "go" and "timestamp" in running["state"]
    started = await api.call("GET", f"/flow-runs/{run['id']}")
    assert started["start_time"] is not None and started["end_time"] is None
    done = await api.set_state(
        run["id"], "Success", state={"result": {"type": "LocalResult", "location": "/x"}}
    )
    assert done["version"] == 4
    final = await api.call("GET", f"/flow-runs/{run['id']}")
    assert final["state_type"] == "Success" and final["end_time"] is not None
    assert final["state"]["result"] == {"type": "LocalResult", "location": "/x"}
    assert final["start_time"] == started["start_time"]
    history = await api.call("GET", f"/flow-runs/{run['id']}/states")
    assert [h["version"] for h in history] == [1, 2, 3, 4]
    assert [h["state"]["type"] for h in history] == ["Scheduled", "Submitted", "Running", "Success"]
    stamps = [dt.datetime.fromisoformat(h["timestamp"]) for h in history]
    assert stamps == sorted(stamps)
    await api.call("GET", "/flow-runs/missing/states", 404)


async def test_unknown_fields_are_kept_and_scheduled_start_defaults(api: Api) -> None:
    run = await _run(api)
    result = await api.set_state(run["id"], "Retrying", state={"run_count": 2, "extra": [1]})
    assert result["state"]["run_count"] == 2 and result["state"]["extra"] == [1]
    assert result["state"]["start_time"] is not None
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    result = await api.set_state(run["id"], "Scheduled", state={"start_time": later})
    assert dt.datetime.fromisoformat(result["state"]["start_time"]) == dt.datetime.fromisoformat(
        later
    )
    bad = await api.set_state(run["id"], "Scheduled", 422, state={"start_time": "soon"})
    assert "start_time" in bad["detail"]


async def test_stale_expected_version_is_a_conflict(api: Api) -> None:
    run = await _run(api)
    ok = await api.set_state(run["id"], "Running", expected_version=1)
    assert ok["status"] == "accepted"
    stale = await api.set_state(run["id"], "Success", 409, expected_version=1)
    assert "version 2" in stale["detail"]
    task_run = await _task_run(api, run["id"])
    await api.set_task_state(task_run["id"], "Running", 409, expected_version=7)


async def test_finished_runs_stay_finished_except_retry_or_reschedule(api: Api) -> None:
    run = await _run(api)
    await api.set_state(run["id"], "Running")
    await api.set_state(run["id"], "Failed")
    rejected = await api.set_state(run["id"], "Running")
    assert rejected["status"] == "rejected" and "already finished" in rejected["detail"]
    assert rejected["state"]["type"] == "Failed" and rejected["version"] == 3
    assert (await api.set_state(run["id"], "Success"))["status"] == "rejected"
    assert (await api.set_state(run["id"], "Scheduled"))["status"] == "accepted"
    assert (await api.set_state(run["id"], "Running"))["status"] == "accepted"
    await api.set_state(run["id"], "Cancelled")
    assert (await api.set_state(run["id"], "Retrying"))["status"] == "rejected"


async def test_cancelling_only_from_running_and_no_resume(api: Api) -> None:
    run = await _run(api)
    rejected = await api.set_state(run["id"], "Cancelling")
    assert rejected["status"] == "rejected" and "running" in rejected["detail"]
    await api.set_state(run["id"], "Running")
    assert (await api.set_state(run["id"], "Cancelling"))["status"] == "accepted"
    assert (await api.set_state(run["id"], "Running"))["status"] == "rejected"
    assert (await api.set_state(run["id"], "Cancelled"))["status"] == "accepted"


async def test_second_submission_is_rejected(api: Api) -> None:
    run = await _run(api)
    assert (await api.set_state(run["id"], "Submitted", agent_id="a"))["status"] == "accepted"
    again = await api.set_state(run["id"], "Submitted", agent_id="b")
    assert again["status"] == "rejected" and "already been submitted" in again["detail"]
    assert (await api.call("GET", f"/flow-runs/{run['id']}"))["agent_id"] == "a"


async def test_task_run_runs_only_inside_a_running_flow_run(api: Api) -> None:
    run = await _run(api)
    task_run = await _task_run(api, run["id"])
    refused = await api.set_task_state(task_run["id"], "Running")
    assert refused["status"] == "rejected" and "Scheduled" in refused["detail"]
    await api.set_state(run["id"], "Running")
    accepted = await api.set_task_state(task_run["id"], "Running")
    assert accepted["status"] == "accepted"
    await api.set_task_state(task_run["id"], "Retrying", state={"run_count": 1})
    await api.set_task_state(task_run["id"], "Running")
    await api.set_task_state(task_run["id"], "Success")
    task_after = await api.call("GET", f"/task-runs/{task_run['id']}")
    assert task_after["run_count"] == 2 and task_after["end_time"] is not None
    history = await api.call("GET", f"/task-runs/{task_run['id']}/states")
    assert [h["state"]["type"] for h in history] == [
        "Pending",
        "Running",
        "Retrying",
        "Running",
        "Success",
    ]
    looped = await api.call(
        "POST", "/task-runs", 201, json={"flow_run_id": run["id"], "task_slug": "loop"}
    )
    await api.set_task_state(looped["id"], "Running")
    await api.set_task_state(looped["id"], "Looped", state={"loop_count": 1})
    assert (await api.set_task_state(looped["id"], "Running"))["status"] == "accepted"


@pytest.mark.parametrize("bad", [{"type": "Nope"}, {"message": "no type"}, {"type": 3}, "x"])
async def test_malformed_states_are_422(api: Api, bad: Any) -> None:
    run = await _run(api)
    response = await api.client.post(f"flow-runs/{run['id']}/state", json={"state": bad})
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    await api.call("POST", "/flow-runs/missing/state", 404, json={"state": {"type": "Running"}})
    await api.call("POST", "/task-runs/missing/state", 404, json={"state": {"type": "Running"}})


async def test_cancel_semantics(api: Api) -> None:
    run = await _run(api)
    result = await api.call("POST", f"/flow-runs/{run['id']}/cancel")
    assert result["state"] == "Cancelled" and result["cancelled"] == [run["id"]]
    assert result["flow_run"]["state"]["message"] == "Flow run is cancelled."
    task_runs = await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]})
    assert [t["state_type"] for t in task_runs] == ["Cancelled"]
    # Finished: nothing changes.
    again = await api.call("POST", f"/flow-runs/{run['id']}/cancel")
    assert again["state"] == "Cancelled" and again["cancelled"] == []
    running = await _run(api)
    await api.set_state(running["id"], "Running")
    result = await api.call("POST", f"/flow-runs/{running['id']}/cancel", json={"cascade": True})
    assert result["state"] == "Cancelling"
    await api.call("POST", "/flow-runs/missing/cancel", 404)


async def test_cancel_cascades_to_unfinished_children(api: Api) -> None:
    parent = await _run(api)
    await api.set_state(parent["id"], "Running")
    child = await api.run(flow_id=parent["flow_id"], parent_flow_run_id=parent["id"])
    await api.set_state(child["id"], "Running")
    grandchild = await api.run(flow_id=parent["flow_id"], parent_flow_run_id=child["id"])
    finished = await api.run(flow_id=parent["flow_id"], parent_flow_run_id=parent["id"])
    await api.set_state(finished["id"], "Running")
    await api.set_state(finished["id"], "Success")
    result = await api.call("POST", f"/flow-runs/{parent['id']}/cancel")
    assert set(result["cancelled"]) == {parent["id"], child["id"], grandchild["id"]}

    async def state(run_id: str) -> str:
        return str((await api.call("GET", f"/flow-runs/{run_id}"))["state_type"])

    assert await state(child["id"]) == "Cancelling"
    assert await state(grandchild["id"]) == "Cancelled"
    assert await state(finished["id"]) == "Success"


async def test_cancel_without_cascade_leaves_children(api: Api) -> None:
    parent = await _run(api)
    child = await api.run(flow_id=parent["flow_id"], parent_flow_run_id=parent["id"])
    result = await api.call("POST", f"/flow-runs/{parent['id']}/cancel", json={"cascade": False})
    assert result["cancelled"] == [parent["id"]]
    assert (await api.call("GET", f"/flow-runs/{child['id']}"))["state_type"] == "Scheduled"


async def test_state_changes_publish_events_after_commit(app: Any, api: Api) -> None:
    run = await _run(api)
    async with app.state.events.subscribe(flow_run_id=run["id"]) as sub:
        await api.set_state(run["id"], "Running")
        event = await sub.wait(5)
        assert event is not None and event.kind == "flow_run.state"
        assert event.data == {"version": 2, "state_type": "Running"}
        await api.call("POST", "/logs", json={"logs": [{"flow_run_id": run["id"], "message": "x"}]})
        event = await sub.wait(5)
        assert event is not None and event.kind == "logs" and event.data["count"] == 1
        # A rejected change publishes nothing.
        await api.set_state(run["id"], "Submitted")
        await api.call("POST", f"/flow-runs/{run['id']}/name", json={"name": "n"})
        event = await sub.wait(5)
        assert event is not None and event.kind == "flow_run.updated"


async def test_concurrent_submissions_accept_exactly_one(api: Api) -> None:
    import asyncio

    run = await _run(api)

    async def submit(agent: str) -> dict[str, Any]:
        response = await api.client.post(
            f"flow-runs/{run['id']}/state",
            json={"state": {"type": "Submitted"}, "agent_id": agent},
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    results = await asyncio.gather(*(submit(f"agent-{i}") for i in range(10)))
    assert [r["status"] for r in results].count("accepted") == 1
    winner = next(i for i, r in enumerate(results) if r["status"] == "accepted")
    assert (await api.call("GET", f"/flow-runs/{run['id']}"))["agent_id"] == f"agent-{winner}"
    history = await api.call("GET", f"/flow-runs/{run['id']}/states")
    assert [h["state"]["type"] for h in history] == ["Scheduled", "Submitted"]


async def test_concurrent_writes_with_one_expected_version(api: Api) -> None:
    import asyncio

    run = await _run(api)
    responses = await asyncio.gather(
        *(
            api.client.post(
                f"flow-runs/{run['id']}/state",
                json={"state": {"type": "Running", "message": str(i)}, "expected_version": 1},
            )
            for i in range(8)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 7
    assert (await api.call("GET", f"/flow-runs/{run['id']}"))["version"] == 2


async def test_task_run_cached_inputs_carry_over(api: Api) -> None:
    run = await _run(api)
    await api.set_state(run["id"], "Running")
    task_run = await _task_run(api, run["id"])
    await api.set_task_state(task_run["id"], "Running")
    inputs = {"x": {"type": "LocalResult", "location": "/r/x"}}
    await api.set_task_state(task_run["id"], "Retrying", state={"cached_inputs": inputs})
    carried = await api.set_task_state(task_run["id"], "Running")
    assert carried["state"]["cached_inputs"] == inputs
    replaced = await api.set_task_state(
        task_run["id"], "Success", state={"cached_inputs": {"y": 1}}
    )
    assert replaced["state"]["cached_inputs"] == {"y": 1}
