"""Fixtures of the in-process API tests: the same tests on SQLite and on PostgreSQL.

- ``database_url`` is parametrized over ``sqlite`` (a fresh file per test) and
  ``postgresql`` (one database per test session or xdist worker, created with
  :func:`headwater.testing.temporary_postgres_database`; tables are truncated before each
  test). PostgreSQL params are skipped only when PostgreSQL is unreachable and ``CI`` is
  not ``"true"``.
- ``app`` is the real application with its lifespan running (migrations, event bus;
  background services off so they cannot interfere); ``client`` is an
  ``httpx.AsyncClient`` on it with ``base_url`` ending in ``/api``.
- ``api`` wraps ``client`` with helpers that assert status codes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.testing import DEFAULT_POSTGRES_URL, postgres_available, temporary_postgres_database

_TABLES = (
    "agents, logs, task_run_states, task_runs, flow_run_states, flow_run_labels, flow_runs, "
    "flows, flow_groups, projects"
)


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str | None]:
    if not postgres_available(DEFAULT_POSTGRES_URL):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required in CI but is not reachable.")
        yield None
        return
    with temporary_postgres_database(DEFAULT_POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _postgres_url: str | None) -> str:
    """A database URL for one test: a fresh SQLite file or the session's PG database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'headwater.db'}"
    if _postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")
    return _postgres_url


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The application with its lifespan running."""
    from sqlalchemy import text

    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    settings = ServerSettings(
        home=tmp_path,
        database_url=database_url,
        start_services=False,
        max_result_bytes=1024 * 1024,
        max_request_bytes=1024 * 1024,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        db = application.state.db
        if db.dialect == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the in-process app; paths are relative to ``/api``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/") as c:
        yield c


class Api:
    """Small helpers over the client that check status codes."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, path.lstrip("/"), **kwargs)
        assert response.status_code == expect, (response.status_code, response.text)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    async def project(self, name: str | None = None) -> dict[str, Any]:
        name = name or f"project-{uuid.uuid4().hex[:8]}"
        result: dict[str, Any] = await self.call("POST", "/projects", 201, json={"name": name})
        return result

    async def flow(
        self,
        name: str = "flow",
        project_name: str | None = None,
        parameters: list[dict[str, Any]] | None = None,
        tasks: list[dict[str, Any]] | None = None,
        expect: int = 201,
        **extra: Any,
    ) -> dict[str, Any]:
        if project_name is None:
            project_name = (await self.project())["name"]
        body = {
            "name": name,
            "project_name": project_name,
            "serialized_flow": {"parameters": parameters or [], "tasks": tasks or []},
            **extra,
        }
        result: dict[str, Any] = await self.call("POST", "/flows", expect, json=body)
        return result

    async def run(self, expect: int = 201, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", "/flow-runs", expect, json=body)
        return result

    async def set_state(
        self, flow_run_id: str, type_: str, expect: int = 200, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"state": {"type": type_, **fields.pop("state", {})}, **fields}
        result: dict[str, Any] = await self.call(
            "POST", f"/flow-runs/{flow_run_id}/state", expect, json=body
        )
        return result

    async def set_task_state(
        self, task_run_id: str, type_: str, expect: int = 200, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"state": {"type": type_, **fields.pop("state", {})}, **fields}
        result: dict[str, Any] = await self.call(
            "POST", f"/task-runs/{task_run_id}/state", expect, json=body
        )
        return result


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    """Status-checking helpers over ``client``."""
    return Api(client)
