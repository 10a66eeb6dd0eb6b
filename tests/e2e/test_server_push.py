"""Real server processes: wake-ups across two servers on one PostgreSQL, and restarts."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def two_servers(pg_url: str) -> Iterator[tuple[TemporaryServer, TemporaryServer]]:
    with temporary_server(database_url=pg_url) as one, temporary_server(database_url=pg_url) as two:
        yield one, two


async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    response = await client.request(method, path, **kw)
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


async def make_flow(client: httpx.AsyncClient) -> str:
    project = f"p-{uuid.uuid4().hex[:8]}"
    await call(client, "POST", "/projects", json={"name": project})
    flow = await call(
        client, "POST", "/flows", json={"name": "f", "project_name": project, "serialized_flow": {}}
    )
    return str(flow["id"])


async def make_run(client: httpx.AsyncClient, flow_id: str) -> str:
    run = await call(client, "POST", "/flow-runs", json={"flow_id": flow_id, "labels": []})
    return str(run["id"])


@pytest.mark.postgres
async def test_waiter_on_one_server_wakes_from_the_other(
    two_servers: tuple[TemporaryServer, TemporaryServer],
) -> None:
    one, two = two_servers
    async with (
        httpx.AsyncClient(base_url=one.api_url, timeout=60) as a,
        httpx.AsyncClient(base_url=two.api_url, timeout=60) as b,
    ):
        flow_id = await make_flow(b)
        run_id = await make_run(b, flow_id)
        waiter = asyncio.create_task(
            call(a, "GET", f"/flow-runs/{run_id}/wait", params={"timeout": 60})
        )
        await call(b, "POST", f"/flow-runs/{run_id}/state", json={"state": {"type": "Running"}})
        done, _ = await asyncio.wait({waiter}, timeout=0.2)
        assert not done
        await call(b, "POST", f"/flow-runs/{run_id}/state", json={"state": {"type": "Success"}})
        answer = await asyncio.wait_for(waiter, 30)
        assert answer["finished"] is True
        assert answer["flow_run"]["state_type"] == "Success"


@pytest.mark.postgres
async def test_stream_and_claim_on_one_server_follow_the_other(
    two_servers: tuple[TemporaryServer, TemporaryServer],
) -> None:
    one, two = two_servers
    async with (
        httpx.AsyncClient(base_url=one.api_url, timeout=60) as a,
        httpx.AsyncClient(base_url=two.api_url, timeout=60) as b,
    ):
        flow_id = await make_flow(b)
        agent = await call(a, "POST", "/agents", json={"name": "x", "type": "t", "labels": []})
        claim = asyncio.create_task(
            call(a, "POST", f"/agents/{agent['id']}/claim", json={"timeout": 60})
        )
        done, _ = await asyncio.wait({claim}, timeout=0.2)
        assert not done
        run_id = await make_run(b, flow_id)
        answer = await asyncio.wait_for(claim, 30)
        assert [r["id"] for r in answer["flow_runs"]] == [run_id]

        async def read_stream() -> list[str]:
            seen: list[str] = []
            async with a.stream("GET", f"/flow-runs/{run_id}/events") as response:
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        seen.append(line[7:])
                    elif line.startswith("data: ") and seen[-1] == "log":
                        seen[-1] = "log:" + json.loads(line[6:])["message"]
                    if seen and seen[-1] == "end":
                        return seen
            return seen

        reader = asyncio.create_task(read_stream())
        await call(b, "POST", f"/flow-runs/{run_id}/state", json={"state": {"type": "Running"}})
        logs = [{"flow_run_id": run_id, "level": "INFO", "name": "t", "message": "hello"}]
        await call(b, "POST", "/logs", json={"logs": logs})
        await call(b, "POST", f"/flow-runs/{run_id}/state", json={"state": {"type": "Success"}})
        seen = await asyncio.wait_for(reader, 30)
        assert "log:hello" in seen and seen[-1] == "end"
        assert seen.count("state") == 4  # Scheduled, Submitted, Running, Success


@pytest.mark.postgres
async def test_claims_through_two_servers_take_each_run_once(
    two_servers: tuple[TemporaryServer, TemporaryServer],
) -> None:
    one, two = two_servers
    async with (
        httpx.AsyncClient(base_url=one.api_url, timeout=60) as a,
        httpx.AsyncClient(base_url=two.api_url, timeout=60) as b,
    ):
        flow_id = await make_flow(a)
        runs = await asyncio.gather(*(make_run(a, flow_id) for _ in range(40)))

        async def claimer(client: httpx.AsyncClient, name: str) -> list[str]:
            agent = await call(client, "POST", "/agents", json={"name": name, "labels": []})
            got: list[str] = []
            while True:
                answer = await call(
                    client, "POST", f"/agents/{agent['id']}/claim", json={"timeout": 0, "limit": 2}
                )
                if not answer["flow_runs"]:
                    return got
                got.extend(r["id"] for r in answer["flow_runs"])

        results = await asyncio.gather(
            *(claimer(c, f"agent-{i}-{n}") for i, c in enumerate((a, b)) for n in range(2))
        )
        counts = Counter(r for got in results for r in got)
        assert set(counts) == set(runs) and set(counts.values()) == {1}


def _restart_keeps_everything(server: TemporaryServer) -> None:
    with httpx.Client(base_url=server.api_url, timeout=30) as client:
        project = f"p-{uuid.uuid4().hex[:8]}"
        assert client.post("/projects", json={"name": project}).status_code == 201
        flow = client.post(
            "/flows", json={"name": "f", "project_name": project, "serialized_flow": {}}
        ).json()
        run = client.post("/flow-runs", json={"flow_id": flow["id"]}).json()
        client.post(f"/flow-runs/{run['id']}/state", json={"state": {"type": "Running"}})
        logs = [{"flow_run_id": run["id"], "level": "INFO", "name": "t", "message": "kept"}]
        client.post("/logs", json={"logs": logs})
        before = client.get(f"/flow-runs/{run['id']}").json()
    server.restart()
    with httpx.Client(base_url=server.api_url, timeout=30) as client:
        after = client.get(f"/flow-runs/{run['id']}").json()
        assert after["state_type"] == "Running" and after["version"] == before["version"]
        history = client.get(f"/flow-runs/{run['id']}/states").json()
        assert [h["state"]["type"] for h in history] == ["Scheduled", "Running"]
        messages = [
            g["message"] for g in client.get("/logs", params={"flow_run_id": run["id"]}).json()
        ]
        assert messages == ["kept"]
        # The restarted server still wakes waiters.
        client.post(f"/flow-runs/{run['id']}/state", json={"state": {"type": "Success"}})
        answer = client.get(f"/flow-runs/{run['id']}/wait", params={"timeout": 10}).json()
        assert answer["finished"] is True


def test_restart_loses_nothing_sqlite() -> None:
    with temporary_server() as server:
        _restart_keeps_everything(server)


@pytest.mark.postgres
def test_restart_loses_nothing_postgres(pg_url: str) -> None:
    with temporary_server(database_url=pg_url) as server:
        _restart_keeps_everything(server)


async def test_stopping_a_server_answers_parked_long_polls() -> None:
    with temporary_server() as server:
        async with httpx.AsyncClient(base_url=server.api_url, timeout=60) as client:
            flow_id = await make_flow(client)
            run_id = await make_run(client, flow_id)
            waiter = asyncio.create_task(
                client.get(f"/flow-runs/{run_id}/wait", params={"timeout": 300})
            )
            done, _ = await asyncio.wait({waiter}, timeout=0.3)
            assert not done
            await asyncio.to_thread(server.stop)
            response = await asyncio.wait_for(waiter, 30)
            # An answer, not a dropped connection.
            assert response.status_code == 200
            assert response.json()["finished"] is False
