"""GET /flow-runs/{id}/wait: a long-poll that returns when the run is finished."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _push_support import Live, live, until


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live(request.param, start_services=False) as srv:
        yield srv


async def test_wait_wakes_on_the_final_state(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    waiter = asyncio.create_task(
        server.call("GET", f"/flow-runs/{run['id']}/wait", params={"timeout": 60})
    )
    await server.set_state(run["id"], {"type": "Running"})
    # A non-final state must not end the wait.
    done, _ = await asyncio.wait({waiter}, timeout=0.2)
    assert not done
    await server.set_state(run["id"], {"type": "Success", "message": "all done"})
    answer = await asyncio.wait_for(waiter, 30)
    assert answer["finished"] is True
    assert answer["flow_run"]["state_type"] == "Success"
    assert answer["flow_run"]["state_message"] == "all done"


async def test_wait_returns_at_once_for_a_finished_run(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Cancelled"})
    answer = await server.call("GET", f"/flow-runs/{run['id']}/wait", params={"timeout": 300})
    assert answer["finished"] is True and answer["flow_run"]["state_type"] == "Cancelled"


async def test_wait_times_out_with_the_current_run(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    answer = await server.call("GET", f"/flow-runs/{run['id']}/wait", params={"timeout": 0.1})
    assert answer["finished"] is False
    assert answer["flow_run"]["id"] == run["id"]
    assert answer["flow_run"]["state_type"] == "Scheduled"


async def test_wait_bad_input(server: Live) -> None:
    missing = await server.client.get("/flow-runs/00000000-0000-0000-0000-000000000000/wait")
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    flow = await server.flow()
    run = await server.run(flow["id"])
    for bad in ("301", "-1", "soon"):
        response = await server.client.get(f"/flow-runs/{run['id']}/wait", params={"timeout": bad})
        assert response.status_code == 422, response.text
        assert "timeout" in response.text


async def test_many_waiters_wake_together(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    waiters = [
        asyncio.create_task(
            server.call("GET", f"/flow-runs/{run['id']}/wait", params={"timeout": 60})
        )
        for _ in range(20)
    ]
    bus = server.app.state.events

    async def all_subscribed() -> bool:
        return bool(bus.subscriber_count >= len(waiters))

    await until(all_subscribed)  # every waiter is parked before the state changes
    await server.set_state(run["id"], {"type": "Failed", "message": "boom"})
    answers = await asyncio.wait_for(asyncio.gather(*waiters), 30)
    assert all(a["finished"] and a["flow_run"]["state_type"] == "Failed" for a in answers)


async def test_shutdown_releases_parked_long_polls(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    agent = await server.agent("parked")
    waiter = asyncio.create_task(
        server.call("GET", f"/flow-runs/{run['id']}/wait", params={"timeout": 300})
    )
    claimer = asyncio.create_task(
        server.call("POST", f"/agents/{agent}/claim", json={"timeout": 300, "limit": 0})
    )
    done, _ = await asyncio.wait({waiter, claimer}, timeout=0.2)
    assert not done
    server.app.state.events.begin_shutdown()
    answer, claimed = await asyncio.wait_for(asyncio.gather(waiter, claimer), 10)
    assert answer["finished"] is False and answer["flow_run"]["id"] == run["id"]
    assert claimed == {"flow_runs": [], "cancel": []}


async def test_push_routes_require_the_api_key() -> None:
    async with live("sqlite", start_services=False, api_key="s3cret") as srv:
        srv.client.headers["Authorization"] = "Bearer s3cret"
        flow = await srv.flow()
        run = await srv.run(flow["id"])
        agent = await srv.agent("keyed")
        del srv.client.headers["Authorization"]
        paths = [
            ("GET", f"/flow-runs/{run['id']}/wait?timeout=0"),
            ("GET", f"/flow-runs/{run['id']}/events"),
            ("POST", f"/agents/{agent}/claim"),
        ]
        for method, path in paths:
            response = await srv.client.request(method, path, json={"timeout": 0})
            assert response.status_code == 401, (path, response.text)
            assert "API key" in response.json()["detail"]
