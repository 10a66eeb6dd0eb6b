"""Bad input gives readable 4xx answers, never a 500; the API key guards every route
but health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from _core_support import Api


async def test_malformed_json_is_a_readable_422(api: Api) -> None:
    response = await api.client.post(
        "projects", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("Invalid request: The request body is not valid JSON")
    assert body["errors"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("projects", {"name": 5}, "name"),
        ("projects", {}, "name"),
        ("projects", {"name": ""}, "name"),
        ("flow-runs", {"flow_id": "x", "parameters": [1]}, "parameters"),
        ("flow-runs", {"flow_id": "x", "scheduled_start_time": "later"}, "scheduled_start_time"),
        ("logs", {"logs": [{"flow_run_id": "x", "message": "m", "level": None}]}, "level"),
        ("task-runs", {"flow_run_id": "x", "task_slug": "s", "map_index": "a"}, "map_index"),
        ("agents", {"labels": "x"}, "labels"),
    ],
)
async def test_wrong_types_name_the_field(api: Api, path: str, body: Any, field: str) -> None:
    response = await api.client.post(path, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert field in detail and "\n" not in detail


async def test_wrong_query_types_and_unknown_routes(api: Api) -> None:
    response = await api.client.get("flow-runs", params={"limit": "many"})
    assert response.status_code == 422 and "limit" in response.json()["detail"]
    response = await api.client.get("logs")
    assert response.status_code == 422 and "flow_run_id" in response.json()["detail"]
    response = await api.client.get("nothing-here")
    assert response.status_code == 404 and response.json()["detail"]
    response = await api.client.delete("projects")
    assert response.status_code == 405


async def test_oversize_body_is_413(api: Api, app: Any) -> None:
    limit = app.state.settings.max_request_bytes
    payload = b'{"name": "' + b"x" * limit + b'"}'
    response = await api.client.post(
        "projects", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert str(limit) in response.json()["detail"]


async def test_values_the_database_refuses_are_422_not_500(api: Api) -> None:
    # PostgreSQL refuses NUL characters in text and JSON; SQLite stores them.
    response = await api.client.post("projects", json={"name": "a\u0000b"})
    assert response.status_code in (201, 422), response.text
    flow = await api.flow()
    response = await api.client.post(
        "flow-runs",
        json={"flow_id": flow["id"], "context": {"k": "\u0000"}, "name": "n"},
    )
    assert response.status_code in (201, 422), response.text
    response = await api.client.post(
        "flow-runs",
        json={"flow_id": flow["id"], "scheduled_start_time": "9999-12-31T23:59:59-23:00"},
    )
    assert response.status_code == 422, response.text
    assert "range" in response.json()["detail"]
    response = await api.client.get("logs", params={"flow_run_id": "x", "after_id": 2**70})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [None, b"[]", b"null", b"1", b'"x"', b"{}", b'{"state": null}', b'{"state": {"type": null}}'],
)
async def test_garbage_bodies_on_every_post_route(api: Api, body: bytes | None) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    paths = [
        "projects",
        "flows",
        "flow-runs",
        f"flow-runs/{run['id']}/name",
        f"flow-runs/{run['id']}/labels",
        f"flow-runs/{run['id']}/cancel",
        f"flow-runs/{run['id']}/state",
        "task-runs",
        "logs",
        "agents",
    ]
    headers = {"content-type": "application/json"}
    for path in paths:
        response = await api.client.post(path, content=body or b"", headers=headers)
        assert 200 <= response.status_code < 500, (path, response.status_code, response.text)
        if response.status_code >= 400:
            assert response.json()["detail"], path


async def test_api_key_guards_every_route_but_health(tmp_path: Path, database_url: str) -> None:
    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    settings = ServerSettings(
        home=tmp_path, database_url=database_url, api_key="s3cret", start_services=False
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/") as client:
            assert (await client.get("health")).status_code == 200
            missing = await client.get("projects")
            assert missing.status_code == 401 and "API key" in missing.json()["detail"]
            wrong = await client.get("projects", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            basic = await client.get("projects", headers={"Authorization": "Basic s3cret"})
            assert basic.status_code == 401
            ok = await client.get("projects", headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200
            posted = await client.post("flow-runs", json={})
            assert posted.status_code == 401
            openapi = await client.get("openapi.json")
            assert openapi.status_code == 200
            routes = [r.path for r in app.routes if getattr(r, "path", "").startswith("/api/")]
            for path in routes:
                if path in ("/api/health", "/api/openapi.json", "/api/docs") or "{" in path:
                    continue
                response = await client.get(path.removeprefix("/api/"))
                assert response.status_code in (401, 405), path
