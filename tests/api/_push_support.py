"""Shared pieces of the push tests: a live in-process server on SQLite or PostgreSQL.

The app runs under a real uvicorn server inside the test's event loop, so long-polls and
server-sent events behave exactly as over the network (httpx's ASGI transport buffers
whole responses, which would hide streaming bugs). ``until`` is the shared deadline wait
(:func:`support.waiting.wait_until_async`) under the name these tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from support.waiting import wait_until_async as until

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[str]:
    """A database URL of a new, empty database of ``kind`` (dropped afterwards)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="hw-push-") as tmp:
            yield f"sqlite:///{tmp}/headwater.db"
        return
    import asyncpg
    import pytest

    name = f"hw_push_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - environment
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Live:
    """A running app and an HTTP client pointed at its API."""

    app: Any
    url: str
    client: httpx.AsyncClient

    async def call(self, method: str, path: str, expect: int | None = None, **kw: Any) -> Any:
        response = await self.client.request(method, path, **kw)
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.text)
        else:
            assert response.status_code < 300, (response.status_code, response.text)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def flow(self, name: str = "flow") -> dict[str, Any]:
        project = f"p-{uuid.uuid4().hex[:8]}"
        await self.call("POST", "/projects", json={"name": project})
        body = {"name": name, "project_name": project, "serialized_flow": {}}
        flow: dict[str, Any] = await self.call("POST", "/flows", json=body)
        return flow

    async def run(
        self,
        flow_id: str,
        *,
        labels: list[str] | None = None,
        start: dt.datetime | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"flow_id": flow_id, "labels": labels or []}
        if start is not None:
            body["scheduled_start_time"] = start.isoformat()
        run: dict[str, Any] = await self.call("POST", "/flow-runs", json=body)
        return run

    async def set_state(self, flow_run_id: str, state: dict[str, Any], **kw: Any) -> Any:
        return await self.call(
            "POST", f"/flow-runs/{flow_run_id}/state", json={"state": state, **kw}
        )

    async def agent(self, name: str, labels: list[str] | None = None) -> str:
        body = {"name": name, "type": "test", "labels": labels or []}
        agent: dict[str, Any] = await self.call("POST", "/agents", json=body)
        return str(agent["id"])

    async def logs(self, flow_run_id: str) -> list[dict[str, Any]]:
        logs: list[dict[str, Any]] = await self.call(
            "GET", "/logs", params={"flow_run_id": flow_run_id, "limit": 1000}
        )
        return logs


@contextlib.asynccontextmanager
async def live_server(database_url: str, **settings: Any) -> AsyncIterator[Live]:
    """Serve ``create_app`` on a free loopback port inside the running loop."""
    import uvicorn

    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    with tempfile.TemporaryDirectory(prefix="hw-push-home-") as home:
        app = create_app(ServerSettings(home=home, database_url=database_url, **settings))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
        )
        server = uvicorn.Server(config)
        # The test process owns signal handling, not the embedded server.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        task = asyncio.create_task(server.serve())
        try:

            async def started() -> bool:
                if task.done():
                    task.result()
                    raise RuntimeError("server exited before it started")
                return bool(server.started)

            await until(started, timeout=30, interval=0.01, what="the server to start")
            port = server.servers[0].sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}/api"
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                yield Live(app, url, client)
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def live(kind: str, **settings: Any) -> AsyncIterator[Live]:
    """A live server on a fresh database of ``kind`` ("sqlite" or "postgres")."""
    async with fresh_database(kind) as url, live_server(url, **settings) as server:
        yield server
