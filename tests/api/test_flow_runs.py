"""Flow runs: creation rules, idempotency, lineage, queries, rename, labels, delete."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from _core_support import Api


async def test_create_by_id_sets_scheduled_state_and_defaults(api: Api) -> None:
    flow = await api.flow(tasks=[{"slug": "a-1", "name": "a"}, {"slug": "b-1", "name": "b"}])
    before = dt.datetime.now(dt.UTC)
    run = await api.run(flow_id=flow["id"])
    assert run["flow_id"] == flow["id"] and run["flow_group_id"] == flow["flow_group_id"]
    assert run["flow_name"] == flow["name"] and run["project_name"] == flow["project_name"]
    assert re.fullmatch(r"[a-z]+-[a-z]+", run["name"])
    assert run["state_type"] == "Scheduled" and run["version"] == 1
    assert run["state"]["message"] == "Flow run scheduled."
    scheduled = dt.datetime.fromisoformat(run["scheduled_start_time"])
    assert scheduled >= before - dt.timedelta(seconds=1)
    assert dt.datetime.fromisoformat(run["state"]["start_time"]) == scheduled
    assert run["labels"] == [] and run["parameters"] == {} and run["context"] == {}
    task_runs = await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]})
    assert [(t["task_slug"], t["map_index"], t["state_type"]) for t in task_runs] == [
        ("a-1", -1, "Pending"),
        ("b-1", -1, "Pending"),
    ]


async def test_create_by_group_and_by_name(api: Api) -> None:
    project = (await api.project("p1"))["name"]
    await api.flow("etl", project)
    v2 = await api.flow("etl", project)
    by_group = await api.run(flow_group_id=v2["flow_group_id"])
    assert by_group["flow_id"] == v2["id"]
    by_name = await api.run(flow_name="etl")
    assert by_name["flow_id"] == v2["id"]
    await api.flow("etl", (await api.project("p2"))["name"])
    ambiguous = await api.run(422, flow_name="etl")
    assert "project_name" in ambiguous["detail"] and "p1" in ambiguous["detail"]
    chosen = await api.run(flow_name="etl", project_name="p1")
    assert chosen["flow_id"] == v2["id"]
    await api.run(404, flow_name="nothing")
    await api.run(404, flow_id="unknown")
    await api.run(404, flow_group_id="unknown")
    assert "flow_id" in (await api.run(422))["detail"]


async def test_parameters_merge_and_validation(api: Api) -> None:
    flow = await api.flow(
        parameters=[
            {"name": "x", "required": True},
            {"name": "y", "default": 2},
            {"name": "z", "default": None},
        ]
    )
    run = await api.run(flow_id=flow["id"], parameters={"x": 1})
    assert run["parameters"] == {"x": 1, "y": 2}
    run = await api.run(flow_id=flow["id"], parameters={"x": 1, "y": 5, "z": 0})
    assert run["parameters"] == {"x": 1, "y": 5, "z": 0}
    missing = await api.run(422, flow_id=flow["id"], parameters={"y": 1})
    assert "Required parameters were not supplied: x" in missing["detail"]
    unknown = await api.run(422, flow_id=flow["id"], parameters={"x": 1, "nope": 1})
    assert "'nope'" in unknown["detail"]


async def test_labels_and_run_config_precedence(api: Api) -> None:
    flow = await api.flow(run_config={"type": "LocalRun", "labels": ["flow-rc"]}, labels=["reg"])
    assert (await api.run(flow_id=flow["id"]))["labels"] == ["flow-rc"]
    explicit = await api.run(flow_id=flow["id"], labels=["z", "a", "a"])
    assert explicit["labels"] == ["a", "z"]
    assert (await api.run(flow_id=flow["id"], labels=[]))["labels"] == []
    # A run_config without labels means no labels, and it replaces the flow's.
    with_rc = await api.run(flow_id=flow["id"], run_config={"type": "LocalRun"})
    assert with_rc["labels"] == [] and with_rc["run_config"] == {"type": "LocalRun"}
    rc_labels = await api.run(flow_id=flow["id"], run_config={"labels": ["rc"]})
    assert rc_labels["labels"] == ["rc"]
    plain = await api.flow(labels=["reg"])
    assert (await api.run(flow_id=plain["id"]))["labels"] == ["reg"]
    assert (await api.run(flow_id=flow["id"]))["run_config"]["labels"] == ["flow-rc"]


async def test_idempotency_key_returns_existing_run_unchanged(api: Api) -> None:
    flow = await api.flow(parameters=[{"name": "x", "default": 1}])
    first = await api.run(flow_id=flow["id"], idempotency_key="k", name="one")
    again = await api.run(200, flow_id=flow["id"], idempotency_key="k", name="two")
    assert again["id"] == first["id"] and again["name"] == "one"
    # Scoped to the flow group: a new version still finds the run.
    v2 = await api.flow(flow["name"], flow["project_name"], parameters=[])
    by_group = await api.run(200, flow_group_id=v2["flow_group_id"], idempotency_key="k")
    assert by_group["id"] == first["id"]
    other = await api.run(flow_id=v2["id"], idempotency_key="k2")
    assert other["id"] != first["id"]


async def test_concurrent_creates_with_one_key_make_one_run(api: Api) -> None:
    flow = await api.flow()

    async def create() -> tuple[int, str]:
        response = await api.client.post(
            "flow-runs", json={"flow_id": flow["id"], "idempotency_key": "race"}
        )
        assert response.status_code in (200, 201), response.text
        return response.status_code, response.json()["id"]

    results = await asyncio.gather(*(create() for _ in range(20)))
    assert len({run_id for _, run_id in results}) == 1
    assert sorted(code for code, _ in results).count(201) == 1
    runs = await api.call("GET", "/flow-runs", params={"flow_id": flow["id"]})
    assert len(runs) == 1


async def test_archived_flow_refuses_new_runs(api: Api) -> None:
    flow = await api.flow()
    await api.call("POST", f"/flows/{flow['id']}/archive")
    detail = (await api.run(409, flow_id=flow["id"]))["detail"]
    assert "archived" in detail and flow["id"] in detail


async def test_lineage_children_and_recursive(api: Api) -> None:
    flow = await api.flow()
    parent = await api.run(flow_id=flow["id"])
    child = await api.run(
        flow_id=flow["id"], parent_flow_run_id=parent["id"], parent_task_run_id="t"
    )
    grandchild = await api.run(flow_id=flow["id"], parent_flow_run_id=child["id"])
    assert child["parent_flow_run_id"] == parent["id"] and child["parent_task_run_id"] == "t"
    direct = await api.call("GET", f"/flow-runs/{parent['id']}/children")
    assert [r["id"] for r in direct] == [child["id"]]
    everything = await api.call(
        "GET", f"/flow-runs/{parent['id']}/children", params={"recursive": "true"}
    )
    assert [r["id"] for r in everything] == [child["id"], grandchild["id"]]
    filtered = await api.call("GET", "/flow-runs", params={"parent_flow_run_id": parent["id"]})
    assert [r["id"] for r in filtered] == [child["id"]]
    await api.run(404, flow_id=flow["id"], parent_flow_run_id="missing")
    await api.call("GET", "/flow-runs/missing/children", 404)


async def test_query_filters_and_pagination(api: Api) -> None:
    project = (await api.project("proj"))["name"]
    a = await api.flow("a", project)
    b = await api.flow("b", project)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    r1 = await api.run(flow_id=a["id"], labels=["x", "y"], name="first")
    r2 = await api.run(flow_id=a["id"], labels=["x"], scheduled_start_time=soon.isoformat())
    r3 = await api.run(flow_id=b["id"])
    await api.set_state(r3["id"], "Running")

    async def ids(**params: object) -> list[str]:
        return [r["id"] for r in await api.call("GET", "/flow-runs", params=params)]

    assert await ids() == [r3["id"], r2["id"], r1["id"]]
    assert await ids(flow_id=a["id"]) == [r2["id"], r1["id"]]
    assert await ids(flow_group_id=b["flow_group_id"]) == [r3["id"]]
    assert await ids(flow_name="b", project_name="proj") == [r3["id"]]
    assert set(await ids(state=["Running", "Success"])) == {r3["id"]}
    assert await ids(state="Scheduled") == [r2["id"], r1["id"]]
    assert await ids(label=["x", "y"]) == [r1["id"]]
    assert await ids(label="x") == [r2["id"], r1["id"]]
    assert await ids(name="first") == [r1["id"]]
    cut = (soon - dt.timedelta(minutes=1)).isoformat()
    assert await ids(scheduled_after=cut) == [r2["id"]]
    assert r2["id"] not in await ids(scheduled_before=cut)
    assert await ids(created_after=r3["created"]) == [r3["id"]]
    assert r3["id"] not in await ids(created_before=r1["created"])
    assert await ids(limit=2) == [r3["id"], r2["id"]]
    assert await ids(limit=2, offset=2) == [r1["id"]]
    await api.call("GET", "/flow-runs", 422, params={"limit": 0})


async def test_rename_labels_heartbeat_delete(api: Api) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    child = await api.run(flow_id=flow["id"], parent_flow_run_id=run["id"])
    renamed = await api.call("POST", f"/flow-runs/{run['id']}/name", json={"name": "new"})
    assert renamed["name"] == "new"
    await api.call("POST", f"/flow-runs/{run['id']}/name", 422, json={"name": ""})
    await api.call("POST", "/flow-runs/missing/name", 404, json={"name": "x"})
    labelled = await api.call("POST", f"/flow-runs/{run['id']}/labels", json={"labels": ["b", "a"]})
    assert labelled["labels"] == ["a", "b"]
    await api.call("POST", "/flow-runs/missing/labels", 404, json={"labels": []})
    assert run["heartbeat"] is None
    await api.call("POST", f"/flow-runs/{run['id']}/heartbeat", 204)
    assert (await api.call("GET", f"/flow-runs/{run['id']}"))["heartbeat"] is not None
    await api.call("POST", "/flow-runs/missing/heartbeat", 404)
    await api.call("POST", "/logs", json={"logs": [{"flow_run_id": run["id"], "message": "m"}]})
    await api.call("DELETE", f"/flow-runs/{run['id']}", 204)
    await api.call("GET", f"/flow-runs/{run['id']}", 404)
    assert (await api.call("GET", f"/flow-runs/{child['id']}"))["parent_flow_run_id"] is None
    assert await api.call("GET", "/logs", params={"flow_run_id": run["id"]}) == []
    await api.call("DELETE", f"/flow-runs/{run['id']}", 404)


async def test_flow_group_settings_feed_new_runs(api: Api) -> None:
    flow = await api.flow(
        parameters=[{"name": "x", "default": 1}, {"name": "y", "default": 1}],
        run_config={"type": "LocalRun", "labels": ["flow-rc"]},
    )
    group_path = f"/flow-groups/{flow['flow_group_id']}"
    group = await api.call(
        "PATCH", group_path, json={"labels": ["g"], "default_parameters": {"x": 2}}
    )
    assert group["labels"] == ["g"] and group["default_parameters"] == {"x": 2}
    run = await api.run(flow_id=flow["id"], parameters={"y": 3})
    assert run["labels"] == ["g"] and run["parameters"] == {"x": 2, "y": 3}
    await api.call("PATCH", group_path, json={"labels": []})
    assert (await api.run(flow_id=flow["id"]))["labels"] == []
    await api.call("PATCH", group_path, json={"labels": None, "run_config": {"labels": ["grc"]}})
    run = await api.run(flow_id=flow["id"])
    assert run["labels"] == ["grc"] and run["run_config"] == {"labels": ["grc"]}
    kept = await api.call("GET", group_path)
    assert kept["default_parameters"] == {"x": 2} and kept["labels"] is None
    await api.call("PATCH", "/flow-groups/missing", 404, json={})


async def test_all_versions_archived_refuses_runs_by_group_and_name(api: Api) -> None:
    project = (await api.project())["name"]
    v1 = await api.flow("gone", project)
    v2 = await api.flow("gone", project)
    for flow in (v1, v2):
        await api.call("POST", f"/flows/{flow['id']}/archive")
    detail = (await api.run(404, flow_group_id=v1["flow_group_id"]))["detail"]
    assert "no unarchived flows" in detail
    assert "gone" in (await api.run(404, flow_name="gone"))["detail"]


async def test_cancelling_a_submitted_run_cancels_it(api: Api) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    await api.set_state(run["id"], "Submitted", agent_id="a")
    result = await api.call("POST", f"/flow-runs/{run['id']}/cancel")
    assert result["state"] == "Cancelled" and result["flow_run"]["version"] == 3
