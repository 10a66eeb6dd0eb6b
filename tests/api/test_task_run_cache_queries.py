"""GET /task-runs filters behind the backend cache lookup: by flow version, flow group,
the cache key a Cached state carries and the state's time, newest state first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from _core_support import Api


async def _running_run(api: Api, flow: dict[str, Any]) -> dict[str, Any]:
    run = await api.run(flow_id=flow["id"])
    await api.set_state(run["id"], "Running")
    return run


async def _cached_task_run(
    api: Api, flow_run_id: str, slug: str, cache_key: str | None = None, map_index: int = -1
) -> dict[str, Any]:
    body = {"flow_run_id": flow_run_id, "task_slug": slug, "map_index": map_index}
    task_run: dict[str, Any] = await api.call("POST", "/task-runs", 201, json=body)
    state: dict[str, Any] = {"cached_result_expiration": "2999-01-01T00:00:00+00:00"}
    if cache_key is not None:
        state["cache_key"] = cache_key
    await api.set_task_state(task_run["id"], "Cached", state=state)
    return task_run


async def _ids(api: Api, **params: Any) -> list[str]:
    rows = await api.call("GET", "/task-runs", params=params)
    return [row["id"] for row in rows]


async def test_cached_task_runs_by_flow_version_and_group_newest_first(api: Api) -> None:
    project = (await api.project())["name"]
    v1 = await api.flow(name="cached", project_name=project)
    first = await _cached_task_run(api, (await _running_run(api, v1))["id"], "work-1")
    second = await _cached_task_run(api, (await _running_run(api, v1))["id"], "work-1")
    # Same flow, another slug, and a run of the slug that is not Cached.
    run = await _running_run(api, v1)
    await _cached_task_run(api, run["id"], "else-1")
    await api.call(
        "POST", "/task-runs", 201, json={"flow_run_id": run["id"], "task_slug": "work-1"}
    )
    # Registering version 2 archives version 1; its runs keep their task runs.
    v2 = await api.flow(name="cached", project_name=project)
    assert v1["flow_group_id"] == v2["flow_group_id"] and v1["id"] != v2["id"]
    newer_version = await _cached_task_run(api, (await _running_run(api, v2))["id"], "work-1")
    other = await api.flow(name="other", project_name=project)
    await _cached_task_run(api, (await _running_run(api, other))["id"], "work-1")

    query = {"task_slug": "work-1", "state": "Cached", "sort": "newest"}
    assert await _ids(api, flow_id=v1["id"], **query) == [second["id"], first["id"]]
    by_group = await _ids(api, flow_group_id=v1["flow_group_id"], **query)
    assert by_group == [newer_version["id"], second["id"], first["id"]]
    assert await _ids(api, flow_id=v1["id"], limit=1, **query) == [second["id"]]
    both = await _ids(api, flow_id=v2["id"], flow_group_id=v1["flow_group_id"], **query)
    assert both == [newer_version["id"]]
    assert await _ids(api, flow_id="no-such-flow", **query) == []


async def test_cached_task_runs_by_cache_key_across_flows(api: Api) -> None:
    project = (await api.project())["name"]
    a = await api.flow(name="a", project_name=project)
    b = await api.flow(name="b", project_name=project)
    keyed_a = await _cached_task_run(api, (await _running_run(api, a))["id"], "x-1", "shared")
    keyed_b = await _cached_task_run(api, (await _running_run(api, b))["id"], "y-1", "shared")
    await _cached_task_run(api, (await _running_run(api, b))["id"], "y-1", "other")
    await _cached_task_run(api, (await _running_run(api, b))["id"], "y-1")

    found = await _ids(api, cache_key="shared", state="Cached", sort="newest")
    assert found == [keyed_b["id"], keyed_a["id"]]
    rows = await api.call("GET", "/task-runs", params={"cache_key": "shared", "flow_id": a["id"]})
    assert [row["id"] for row in rows] == [keyed_a["id"]]
    assert rows[0]["state"]["cache_key"] == "shared"
    assert await _ids(api, cache_key="missing") == []


async def test_state_after_keeps_states_stored_since(api: Api) -> None:
    flow = await api.flow()
    run = await _running_run(api, flow)
    task_run = await _cached_task_run(api, run["id"], "t-1")
    stamp = dt.datetime.fromisoformat(
        (await api.call("GET", f"/task-runs/{task_run['id']}"))["state_timestamp"]
    )
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    earlier = (stamp - dt.timedelta(seconds=1)).isoformat()
    later = (stamp + dt.timedelta(seconds=1)).isoformat()
    assert await _ids(api, flow_id=flow["id"], state_after=earlier) == [task_run["id"]]
    assert await _ids(api, flow_id=flow["id"], state_after=later) == []


async def test_bad_cache_query_parameters_are_422(api: Api) -> None:
    bad_sort = await api.call("GET", "/task-runs", 422, params={"sort": "oldest"})
    assert "sort" in str(bad_sort["detail"])
    bad_time = await api.call("GET", "/task-runs", 422, params={"state_after": "yesterday"})
    assert "state_after" in str(bad_time["detail"])
    await api.call("GET", "/task-runs", 422, params={"cache_key": "k" * 1001})
    # The default order stays (task_slug, map_index).
    assert await api.call("GET", "/task-runs", params={"sort": "slug"}) == []
