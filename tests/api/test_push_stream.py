"""GET /flow-runs/{id}/events: server-sent states and logs, resumable from a cursor."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _push_support import Live, live, until


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live(request.param, start_services=False) as srv:
        yield srv


async def events(
    server: Live, run_id: str, *, limit: int | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Read the stream until `end` (or `limit` events); comments are kept as pings."""
    out: list[dict[str, Any]] = []
    query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
    async with server.client.stream(
        "GET", f"/flow-runs/{run_id}/events", params=query, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith(":"):
                out.append({"event": "ping"})
                if limit is not None and len(out) >= limit:
                    return out
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and current:
                out.append(current)
                if current["event"] == "end" or (limit is not None and len(out) >= limit):
                    return out
                current = {}
    return out


async def write_logs(server: Live, run_id: str, *messages: str) -> None:
    logs = [{"flow_run_id": run_id, "level": "INFO", "name": "t", "message": m} for m in messages]
    await server.call("POST", "/logs", json={"logs": logs})


async def finished_run(server: Live) -> str:
    flow = await server.flow()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Running"})
    await write_logs(server, run["id"], "one", "two")
    await server.set_state(run["id"], {"type": "Success", "message": "ok"})
    await write_logs(server, run["id"], "three")
    return str(run["id"])


def shape(items: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for item in items:
        if item["event"] == "state":
            out.append(("state", item["data"]["state"]["type"]))
        elif item["event"] == "log":
            out.append(("log", item["data"]["message"]))
        else:
            out.append((item["event"], None))
    return out


async def test_stream_of_a_finished_run(server: Live) -> None:
    run_id = await finished_run(server)
    got = await events(server, run_id)
    kinds = shape(got)
    assert [k for k in kinds if k[0] == "state"] == [
        ("state", "Scheduled"),
        ("state", "Running"),
        ("state", "Success"),
    ]
    assert [k for k in kinds if k[0] == "log"] == [("log", "one"), ("log", "two"), ("log", "three")]
    assert kinds[-1] == ("end", None)
    assert got[-1]["data"]["state_type"] == "Success"
    states = [g for g in got if g["event"] == "state"]
    assert [s["data"]["version"] for s in states] == [1, 2, 3]
    assert all("timestamp" in s["data"] for s in states)
    log = next(g for g in got if g["event"] == "log")
    assert {"id", "flow_run_id", "timestamp", "level", "name", "message"} <= set(log["data"])


async def test_resume_from_every_cursor_loses_and_repeats_nothing(server: Live) -> None:
    run_id = await finished_run(server)
    full = await events(server, run_id)
    body = full[:-1]
    for i, item in enumerate(body):
        rest = await events(server, run_id, cursor=item["id"])
        assert shape(rest) == shape(full[i + 1 :])


async def test_last_event_id_header_resumes(server: Live) -> None:
    run_id = await finished_run(server)
    full = await events(server, run_id)
    response = await server.client.get(
        f"/flow-runs/{run_id}/events", headers={"Last-Event-ID": full[-3]["id"]}
    )
    kinds = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert kinds == [item["event"] for item in full[-2:]]


async def test_filters(server: Live) -> None:
    run_id = await finished_run(server)
    only_states = shape(await events(server, run_id, logs=False))
    assert {k for k, _ in only_states} == {"state", "end"}
    only_logs = shape(await events(server, run_id, states=False))
    assert {k for k, _ in only_logs} == {"log", "end"}


async def test_live_stream_follows_the_run(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    reader = asyncio.create_task(events(server, run["id"]))
    bus = server.app.state.events

    async def subscribed() -> bool:
        return bool(bus.subscriber_count >= 1)

    await until(subscribed)  # the stream is open before the run moves on
    await server.set_state(run["id"], {"type": "Running"})
    for i in range(5):
        await write_logs(server, run["id"], f"line {i}")
    done, _ = await asyncio.wait({reader}, timeout=0.3)
    assert not done  # not finished: the stream stays open
    await server.set_state(run["id"], {"type": "Failed", "message": "no"})
    got = await asyncio.wait_for(reader, 30)
    kinds = shape(got)
    assert [m for k, m in kinds if k == "log"] == [f"line {i}" for i in range(5)]
    assert [m for k, m in kinds if k == "state"] == ["Scheduled", "Running", "Failed"]
    assert kinds[-1] == ("end", None)


async def test_interrupted_stream_resumes(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Running"})
    await write_logs(server, run["id"], "a", "b")
    first = await events(server, run["id"], limit=2)  # client goes away mid-stream
    bus = server.app.state.events

    async def released() -> bool:
        return bool(bus.subscriber_count == 0)

    await until(released)  # the server noticed the disconnect and let go
    await write_logs(server, run["id"], "c")
    await server.set_state(run["id"], {"type": "Success"})
    rest = await events(server, run["id"], cursor=first[-1]["id"])
    combined = shape(first + rest)
    assert [m for k, m in combined if k == "log"] == ["a", "b", "c"]
    assert [m for k, m in combined if k == "state"] == ["Scheduled", "Running", "Success"]


async def test_stream_bad_input(server: Live) -> None:
    missing = await server.client.get("/flow-runs/00000000-0000-0000-0000-000000000000/events")
    assert missing.status_code == 404
    run_id = await finished_run(server)
    bad = await server.client.get(f"/flow-runs/{run_id}/events", params={"cursor": "nope"})
    assert bad.status_code == 422 and "cursor" in bad.json()["detail"]


async def test_idle_stream_sends_pings(server: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.server.api import flow_runs

    monkeypatch.setattr(flow_runs, "PING_INTERVAL", 0.05)
    flow = await server.flow()
    run = await server.run(flow["id"])
    got = await events(server, run["id"], limit=3)
    assert [g["event"] for g in got] == ["state", "ping", "ping"]
