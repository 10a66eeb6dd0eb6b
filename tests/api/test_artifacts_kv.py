"""Artifacts and the key-value store through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from _core_support import Api


async def _task_run(api: Api, slug: str = "t-1") -> tuple[dict[str, Any], dict[str, Any]]:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    await api.set_state(run["id"], "Running")
    body = {"flow_run_id": run["id"], "task_slug": slug}
    task_run = await api.call("POST", "/task-runs", 201, json=body)
    return run, task_run


async def test_artifacts_are_created_listed_updated_and_deleted(api: Api) -> None:
    run, task_run = await _task_run(api)
    _, other_task = await _task_run(api)
    link = await api.call(
        "POST",
        "/artifacts",
        201,
        json={"task_run_id": task_run["id"], "kind": "link", "data": {"link": "https://x.io/a"}},
    )
    assert link["flow_run_id"] == run["id"] and link["task_run_id"] == task_run["id"]
    markdown = await api.call(
        "POST",
        "/artifacts",
        201,
        json={"task_run_id": task_run["id"], "kind": "markdown", "data": {"markdown": "# R"}},
    )
    await api.call(
        "POST",
        "/artifacts",
        201,
        json={"task_run_id": other_task["id"], "kind": "markdown", "data": {"markdown": "x"}},
    )
    listed = await api.call("GET", "/artifacts", params={"flow_run_id": run["id"]})
    assert [a["id"] for a in listed] == [link["id"], markdown["id"]]
    only_links = await api.call(
        "GET", "/artifacts", params={"task_run_id": task_run["id"], "kind": "link"}
    )
    assert [a["id"] for a in only_links] == [link["id"]]
    updated = await api.call(
        "PATCH", f"/artifacts/{link['id']}", json={"data": {"link": "/flow-run/abc"}}
    )
    assert updated["data"] == {"link": "/flow-run/abc"} and updated["kind"] == "link"
    assert updated["updated"] >= link["updated"]
    await api.call("DELETE", f"/artifacts/{link['id']}", 204)
    await api.call("GET", f"/artifacts/{link['id']}", 404)
    await api.call("DELETE", f"/artifacts/{link['id']}", 404)
    remaining = await api.call("GET", "/artifacts", params={"flow_run_id": run["id"]})
    assert [a["id"] for a in remaining] == [markdown["id"]]
    # Deleting the run takes its artifacts with it.
    await api.call("DELETE", f"/flow-runs/{run['id']}", 204)
    assert await api.call("GET", "/artifacts", params={"flow_run_id": run["id"]}) == []


async def test_artifact_input_is_checked(api: Api) -> None:
    run, task_run = await _task_run(api)
    tid = task_run["id"]

    async def refused(body: dict[str, Any], status: int = 422) -> str:
        answer = await api.call("POST", "/artifacts", status, json=body)
        return str(answer["detail"])

    assert "task_run_id" in await refused({"kind": "link", "data": {"link": "x"}})
    assert "not found" in await refused(
        {"task_run_id": "nope", "kind": "link", "data": {"link": "x"}}, 404
    )
    assert "kind" in await refused({"task_run_id": tid, "kind": "table", "data": {}})
    assert "link" in await refused({"task_run_id": tid, "kind": "link", "data": {"url": "x"}})
    assert "javascript" in await refused(
        {"task_run_id": tid, "kind": "link", "data": {"link": " JavaScript:alert(1)"}}
    )
    assert "markdown" in await refused({"task_run_id": tid, "kind": "markdown", "data": {}})
    big = {"task_run_id": tid, "kind": "markdown", "data": {"markdown": "x" * (1024 * 1024)}}
    assert "at most" in await refused(big, 413)
    assert "belongs to flow run" in await refused(
        {"task_run_id": tid, "flow_run_id": "other", "kind": "link", "data": {"link": "x"}}
    )
    # An artifact of the flow run alone is allowed.
    alone = await api.call(
        "POST",
        "/artifacts",
        201,
        json={"flow_run_id": run["id"], "kind": "markdown", "data": {"markdown": "<b>&</b>"}},
    )
    assert alone["task_run_id"] is None and alone["data"]["markdown"] == "<b>&</b>"
    await api.call("PATCH", f"/artifacts/{alone['id']}", 422, json={"data": {"link": "x"}})
    await api.call("PATCH", "/artifacts/missing", 404, json={"data": {"markdown": "x"}})
    await api.call("GET", "/artifacts", 422, params={"limit": 0})


async def test_kv_set_get_replace_delete_and_list(api: Api) -> None:
    first = await api.call("PUT", "/kv/watermark", json={"value": "2026-01-01"})
    assert first["key"] == "watermark" and first["value"] == "2026-01-01"
    again = await api.call("PUT", "/kv/watermark", json={"value": {"day": 2, "ok": [1, None]}})
    assert again["id"] == first["id"]
    assert (await api.call("GET", "/kv/watermark"))["value"] == {"day": 2, "ok": [1, None]}
    for key, value in (("b", 1), ("a/b", 2.5), ("with space", False), ("ünï", None)):
        await api.call("PUT", f"/kv/{key}", json={"value": value})
        assert (await api.call("GET", f"/kv/{key}"))["value"] == value
    keys = [e["key"] for e in await api.call("GET", "/kv")]
    assert keys == sorted(["watermark", "b", "a/b", "with space", "ünï"])
    assert [e["key"] for e in await api.call("GET", "/kv", params={"prefix": "a/"})] == ["a/b"]
    # LIKE wildcards in a prefix are literal.
    assert await api.call("GET", "/kv", params={"prefix": "%"}) == []
    await api.call("DELETE", "/kv/watermark", 204)
    missing = await api.call("GET", "/kv/watermark", 404)
    assert "watermark" in missing["detail"]
    await api.call("DELETE", "/kv/watermark", 404)


async def test_kv_limits_are_clear_errors(api: Api) -> None:
    too_big = await api.call("PUT", "/kv/big", 413, json={"value": "x" * 20_000})
    assert "at most 10240 bytes" in too_big["detail"]
    assert "255" in (await api.call("PUT", "/kv/" + "k" * 256, 422, json={"value": 1}))["detail"]
    assert "control" in (await api.call("PUT", "/kv/a%01b", 422, json={"value": 1}))["detail"]
    assert await api.call("GET", "/kv") == []


async def test_concurrent_sets_of_one_key_leave_one_entry(api: Api) -> None:
    answers = await asyncio.gather(
        *(api.client.put("kv/shared", json={"value": i}) for i in range(10))
    )
    assert [r.status_code for r in answers] == [200] * 10
    assert len({r.json()["id"] for r in answers}) == 1
    entries = await api.call("GET", "/kv")
    assert len(entries) == 1 and entries[0]["value"] in range(10)
