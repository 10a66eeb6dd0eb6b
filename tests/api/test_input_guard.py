"""Input the server stores, it can give back: one JSON depth limit and storable text only.

A JSON value nested past the limit, a lone surrogate or a NUL in any text of a body or a
query is refused with a 422 naming the field and the limit, nothing of the request is
committed, and every list and read endpoint keeps answering 200 afterwards (the bug these
tests pin: one deep value used to poison ``GET /flows`` and ``GET /flow-runs`` for all).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _core_support import Api

from headwater.server.api.input_guard import DEFAULT_MAX_JSON_DEPTH


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"a": value}
    return value


_DEEP = _nested(500)
_SURROGATE = "bad \ud800 text"
_NUL = "bad \x00 text"


def _raw(body: str) -> dict[str, Any]:
    """Request arguments sending ``body`` as is (json= cannot encode a lone surrogate)."""
    return {
        "content": body.encode("utf-8", "surrogatepass"),
        "headers": {"content-type": "application/json"},
    }


async def _counts(api: Api) -> dict[str, int]:
    """Rows visible through every list endpoint; each must answer 200."""
    flows = await api.call("GET", "/flows")
    runs = await api.call("GET", "/flow-runs")
    projects = await api.call("GET", "/projects")
    agents = await api.call("GET", "/agents")
    counts = {
        "flows": len(flows),
        "runs": len(runs),
        "projects": len(projects),
        "agents": len(agents),
    }
    task_runs = logs = 0
    for run in runs:
        await api.call("GET", f"/flow-runs/{run['id']}")
        await api.call("GET", f"/flow-runs/{run['id']}/states")
        task_runs += len(await api.call("GET", "/task-runs", params={"flow_run_id": run["id"]}))
        logs += len(await api.call("GET", "/logs", params={"flow_run_id": run["id"]}))
    for flow in flows:
        await api.call("GET", f"/flows/{flow['id']}")
        await api.call("GET", f"/flow-groups/{flow['flow_group_id']}")
    counts.update(task_runs=task_runs, logs=logs)
    return counts


async def _setup(api: Api) -> dict[str, Any]:
    parameter = {"name": "p", "slug": "p", "required": False, "default": None}
    flow = await api.flow(name="guarded", parameters=[parameter])
    run = await api.run(flow_id=flow["id"])
    await api.set_state(run["id"], "Running")
    task_run = await api.call(
        "POST", "/task-runs", 201, json={"flow_run_id": run["id"], "task_slug": "t-1"}
    )
    return {"flow": flow, "run": run, "task_run": task_run}


def _bodies(ids: dict[str, Any], poison: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, JSON body) for every field where a user value is stored."""
    flow, run, task_run = ids["flow"], ids["run"], ids["task_run"]
    project = flow["project_name"]
    return [
        ("POST", "/projects", {"name": poison}),
        ("POST", "/projects", {"name": "p-ok", "description": poison}),
        (
            "POST",
            "/flows",
            {"name": "f", "project_name": project, "serialized_flow": {"x": poison}},
        ),
        ("POST", "/flows", {"name": poison, "project_name": project, "serialized_flow": {}}),
        (
            "POST",
            "/flows",
            {"name": "f", "project_name": project, "serialized_flow": {}, "description": poison},
        ),
        (
            "POST",
            "/flows",
            {"name": "f", "project_name": project, "serialized_flow": {}, "labels": [poison]},
        ),
        ("POST", "/flow-runs", {"flow_id": flow["id"], "parameters": {"p": poison}}),
        ("POST", "/flow-runs", {"flow_id": flow["id"], "context": {"c": poison}}),
        ("POST", "/flow-runs", {"flow_id": flow["id"], "name": poison}),
        ("POST", "/flow-runs", {"flow_id": flow["id"], "labels": [poison]}),
        ("POST", f"/flow-runs/{run['id']}/name", {"name": poison}),
        ("POST", f"/flow-runs/{run['id']}/labels", {"labels": [poison]}),
        (
            "POST",
            f"/flow-runs/{run['id']}/state",
            {"state": {"type": "Running", "message": poison}},
        ),
        ("POST", f"/flow-runs/{run['id']}/state", {"state": {"type": "Success", "result": poison}}),
        (
            "POST",
            f"/flow-runs/{run['id']}/state",
            {"state": {"type": "Success", "context": {"k": poison}}},
        ),
        (
            "POST",
            f"/task-runs/{task_run['id']}/state",
            {"state": {"type": "Success", "result": poison}},
        ),
        ("POST", "/task-runs", {"flow_run_id": run["id"], "task_slug": poison}),
        ("PATCH", f"/flow-groups/{flow['flow_group_id']}", {"default_parameters": {"p": poison}}),
        (
            "POST",
            "/logs",
            {"logs": [{"flow_run_id": run["id"], "level": "INFO", "name": "x", "message": poison}]},
        ),
        (
            "POST",
            "/logs",
            {
                "logs": [
                    {
                        "flow_run_id": run["id"],
                        "level": "INFO",
                        "name": "x",
                        "message": "m",
                        "info": {"i": poison},
                    }
                ]
            },
        ),
        ("POST", "/agents", {"name": poison, "type": "LocalAgent", "labels": []}),
        ("POST", "/agents", {"name": "a", "type": "LocalAgent", "labels": [poison]}),
    ]


@pytest.mark.parametrize("kind", ["deep", "surrogate", "nul", "surrogate-key"])
async def test_poison_never_gets_in_and_lists_keep_working(
    api: Api, client: httpx.AsyncClient, kind: str
) -> None:
    ids = await _setup(api)
    before = await _counts(api)
    poison: Any = {"deep": _DEEP, "surrogate": _SURROGATE, "nul": _NUL}.get(kind, {"k": 1})
    refused = 0
    import json

    for method, path, body in _bodies(ids, poison):
        text = json.dumps(body)
        if kind == "surrogate-key":
            text = text.replace('"k": 1', '"\\udfff": 1')
        response = await client.request(method, path.lstrip("/"), **_raw(text))
        if kind == "surrogate-key" and '"\\udfff"' not in text:
            continue
        assert response.status_code == 422, (
            path,
            body if kind != "deep" else "deep",
            response.text,
        )
        detail = response.json()["detail"]
        assert isinstance(detail, str)
        if kind == "deep":
            assert f"limit of {DEFAULT_MAX_JSON_DEPTH} levels" in detail
        elif kind == "nul":
            assert "NUL" in detail
        else:
            assert "surrogate" in detail
        refused += 1
    assert refused >= 4
    assert await _counts(api) == before  # nothing committed, every list still answers


async def test_depth_limit_names_the_field_and_values_within_it_round_trip(api: Api) -> None:
    ids = await _setup(api)
    # The body is level 1, "parameters" level 2, so this is the deepest accepted value.
    deepest = _nested(DEFAULT_MAX_JSON_DEPTH - 2)
    run = await api.run(flow_id=ids["flow"]["id"], parameters={"p": deepest})
    assert run["parameters"] == {"p": deepest}
    listed = await api.call("GET", "/flow-runs")
    assert any(r["parameters"] == {"p": deepest} for r in listed)
    too_deep = {"p": _nested(DEFAULT_MAX_JSON_DEPTH - 1)}
    answer = await api.call(
        "POST", "/flow-runs", 422, json={"flow_id": ids["flow"]["id"], "parameters": too_deep}
    )
    assert answer["detail"].startswith("parameters.p.a.a.a.a")
    assert "limit of 64 levels" in answer["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "name=a%00b",
        "name=%ED%A0%80",
        "project_name=%FF%FE",
        "name=" + "x" * 9000,
    ],
)
async def test_bad_query_values_are_refused(
    api: Api, client: httpx.AsyncClient, query: str
) -> None:
    await _setup(api)
    for path in ("flows", "flow-runs", "task-runs", "logs"):
        response = await client.get(f"{path}?{query}")
        assert response.status_code == 422, (path, query[:40], response.text)
        assert "query parameter" in response.json()["detail"]
    await _counts(api)


async def test_bad_path_and_malformed_bodies(api: Api, client: httpx.AsyncClient) -> None:
    ids = await _setup(api)
    before = await _counts(api)
    for path in ("flow-runs/a%00b", "flows/%ED%A0%80", "task-runs/x%00"):
        response = await client.get(path)
        assert response.status_code == 422, (path, response.text)
    cases = [
        b'{"name": NaN}',
        b'{"name": Infinity}',
        b'{"name": "x"',  # truncated
        b'\xff\xfe{"name": "x"}',  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # deeper than any parser's recursion
        b'{"flow_id": "'
        + ids["flow"]["id"].encode()
        + b'", "parameters": {"n": 1'
        + b"0" * 5000
        + b"}}",
    ]
    for body in cases:
        for path in ("projects", "flow-runs", "logs"):
            response = await client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
            assert 400 <= response.status_code < 500, (path, body[:40], response.text)
            assert isinstance(response.json()["detail"], str)
    assert await _counts(api) == before


async def test_chunked_body_over_the_limit_is_refused_while_read(
    api: Api, client: httpx.AsyncClient
) -> None:
    # No Content-Length: the limit is counted while the body is read.
    async def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "projects", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "at most" in response.json()["detail"]
    assert await api.call("GET", "/projects") == []
