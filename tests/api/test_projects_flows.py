"""Projects, flow registration with versioning, archiving, flow groups."""

from __future__ import annotations

from _core_support import Api


async def test_health_names_the_database(api: Api, database_url: str) -> None:
    health = await api.call("GET", "/health")
    assert health["status"] == "ok"
    assert health["database"] == ("sqlite" if database_url.startswith("sqlite") else "postgresql")


async def test_projects_create_list_read_and_duplicate(api: Api) -> None:
    created = await api.call("POST", "/projects", 201, json={"name": "etl", "description": "d"})
    assert created["name"] == "etl" and created["description"] == "d"
    duplicate = await api.call("POST", "/projects", 409, json={"name": "etl"})
    assert "etl" in duplicate["detail"]
    assert [p["name"] for p in await api.call("GET", "/projects")] == ["etl"]
    assert (await api.call("GET", "/projects/by-name/etl"))["id"] == created["id"]
    missing = await api.call("GET", "/projects/by-name/nope", 404)
    assert "nope" in missing["detail"]
    assert (await api.call("GET", f"/projects/{created['id']}"))["name"] == "etl"


async def test_registration_versions_and_archives_within_a_group(api: Api) -> None:
    project = (await api.project("p"))["name"]
    v1 = await api.flow("etl", project)
    v2 = await api.flow("etl", project)
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v1["flow_group_id"] == v2["flow_group_id"]
    assert v2["archived"] is False
    assert (await api.call("GET", f"/flows/{v1['id']}"))["archived"] is True
    # Same name in another project: another group, version 1 again.
    other = await api.flow("etl", (await api.project("q"))["name"])
    assert other["flow_group_id"] != v1["flow_group_id"] and other["version"] == 1
    group = await api.call("GET", f"/flow-groups/{v1['flow_group_id']}")
    assert group["labels"] is None and group["default_parameters"] == {}
    await api.call("GET", "/flow-groups/unknown", 404)


async def test_registration_idempotency_key_returns_the_existing_version(api: Api) -> None:
    project = (await api.project())["name"]
    first = await api.flow("f", project, idempotency_key="abc")
    again = await api.flow("f", project, idempotency_key="abc", expect=200)
    assert again["id"] == first["id"]
    changed = await api.flow("f", project, idempotency_key="def")
    assert changed["version"] == 2


async def test_parameters_and_tasks_are_extracted(api: Api) -> None:
    flow = await api.flow(
        parameters=[{"name": "x", "required": True}, {"name": "y", "default": 2}],
        tasks=[{"slug": "a-1", "name": "a"}, {"slug": "b-1"}],
        labels=["b", "a", "a"],
        storage={"type": "Local"},
        run_config={"type": "LocalRun"},
        description="demo",
        core_version="0.1.0",
    )
    assert flow["parameters"] == [
        {"name": "x", "slug": "x", "required": True, "default": None},
        {"name": "y", "slug": "y", "required": False, "default": 2},
    ]
    assert [t["slug"] for t in flow["tasks"]] == ["a-1", "b-1"]
    assert flow["tasks"][1]["name"] == "b-1"
    assert flow["labels"] == ["a", "b"]
    assert flow["storage"] == {"type": "Local"} and flow["description"] == "demo"


async def test_bad_serialized_flow_and_unknown_project(api: Api) -> None:
    project = (await api.project())["name"]
    body = {"name": "f", "project_name": project, "serialized_flow": {"tasks": [{"name": "x"}]}}
    detail = (await api.call("POST", "/flows", 422, json=body))["detail"]
    assert "slug" in detail
    body["serialized_flow"] = {"parameters": "nope"}
    await api.call("POST", "/flows", 422, json=body)
    body["serialized_flow"] = {"tasks": [{"slug": "a"}, {"slug": "a"}]}
    assert "twice" in (await api.call("POST", "/flows", 422, json=body))["detail"]
    body = {"name": "f", "project_name": "missing", "serialized_flow": {}}
    assert "missing" in (await api.call("POST", "/flows", 404, json=body))["detail"]


async def test_query_flows_and_archive(api: Api) -> None:
    project = (await api.project("p"))["name"]
    v1 = await api.flow("a", project)
    v2 = await api.flow("a", project)
    await api.flow("b", project)
    by_name = await api.call("GET", "/flows", params={"name": "a"})
    assert [f["version"] for f in by_name] == [2, 1]
    unarchived = await api.call("GET", "/flows", params={"name": "a", "archived": "false"})
    assert [f["id"] for f in unarchived] == [v2["id"]]
    group = await api.call("GET", "/flows", params={"flow_group_id": v1["flow_group_id"]})
    assert len(group) == 2
    assert len(await api.call("GET", "/flows", params={"project_name": "p"})) == 3
    assert len(await api.call("GET", "/flows", params={"limit": 1, "order": "created"})) == 1
    archived = await api.call("POST", f"/flows/{v2['id']}/archive")
    assert archived["archived"] is True
    await api.call("POST", "/flows/unknown/archive", 404)
    await api.call("GET", "/flows/unknown", 404)


async def test_concurrent_registrations_share_one_group(api: Api) -> None:
    import asyncio

    project = (await api.project())["name"]
    body = {"name": "same", "project_name": project, "serialized_flow": {}}
    responses = await asyncio.gather(*(api.client.post("flows", json=body) for _ in range(6)))
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    flows = [r.json() for r in responses]
    assert len({f["flow_group_id"] for f in flows}) == 1
    assert sorted(f["version"] for f in flows) == [1, 2, 3, 4, 5, 6]
    unarchived = await api.call("GET", "/flows", params={"name": "same", "archived": "false"})
    assert [f["version"] for f in unarchived] == [6]
