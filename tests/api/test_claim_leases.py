"""Lost claim answers: a run claimed by an agent process that never got it is handed back.

The agent process claims with a token and lists the runs it holds; a run Submitted under
its token that a later claim does not list goes back to the queue at once (and may be
handed out again by that same claim). A process that never claims again loses its
unacknowledged runs after ``claim_lease`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _core_support import Api
from _push_support import Live, live, until


async def _agent(api: Api, name: str = "agent") -> str:
    agent = await api.call("POST", "/agents", json={"name": name, "type": "T", "labels": []})
    return str(agent["id"])


async def _claim(
    api: Api, agent: str, token: str | None, running: tuple[str, ...] | list[str] = ()
) -> list[str]:
    body: dict[str, Any] = {"timeout": 0, "limit": 5, "running": list(running)}
    if token is not None:
        body["token"] = token
    got = await api.call("POST", f"/agents/{agent}/claim", json=body)
    return [r["id"] for r in got["flow_runs"]]


async def _history(api: Api, run_id: str) -> list[str]:
    return [h["state"]["type"] for h in await api.call("GET", f"/flow-runs/{run_id}/states")]


async def test_an_unlisted_claim_is_handed_back_by_the_next_claim(api: Api) -> None:
    flow = await api.flow()
    run = await api.run(flow_id=flow["id"])
    agent = await _agent(api)
    assert await _claim(api, agent, "token-a") == [run["id"]]  # this answer is "lost"
    # The same process claims again without listing the run: it gets it back at once.
    assert await _claim(api, agent, "token-a") == [run["id"]]
    assert await _history(api, run["id"]) == ["Scheduled", "Submitted", "Scheduled", "Submitted"]
    current = await api.call("GET", f"/flow-runs/{run['id']}")
    assert current["times_resurrected"] == 0
    logs = await api.call("GET", "/logs", params={"flow_run_id": run["id"]})
    assert any("answer to the claim that handed it out was lost" in log["message"] for log in logs)
    # Listed now: it stays where it is, and is not handed out twice.
    assert await _claim(api, agent, "token-a", [run["id"]]) == []
    assert (await _history(api, run["id"]))[-1] == "Submitted"


async def test_other_processes_and_running_runs_are_left_alone(api: Api) -> None:
    flow = await api.flow()
    first, second = [await api.run(flow_id=flow["id"]) for _ in range(2)]
    agent = await _agent(api)  # two processes with one name share the agent record
    claimed = await _claim(api, agent, "twin-1")
    assert sorted(claimed) == sorted([first["id"], second["id"]])
    await api.set_state(first["id"], "Running")
    # The twin lists nothing of twin-1's runs: they are not its business.
    assert await _claim(api, agent, "twin-2") == []
    # A claim without a token (an older agent) hands nothing back either.
    assert await _claim(api, agent, None) == []
    # twin-1 lists neither: the Running one stays, the Submitted one is handed back.
    assert await _claim(api, agent, "twin-1") == [second["id"]]
    assert (await api.call("GET", f"/flow-runs/{first['id']}"))["state_type"] == "Running"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    settings = {"reaper_interval": 0.05, "claim_lease": 1.0, "late_runs_interval": 0}
    async with live(request.param, **settings) as srv:
        yield srv


async def test_a_silent_process_loses_its_unacknowledged_claims(server: Live) -> None:
    flow = await server.flow()
    first, second, untokened = [await server.run(flow["id"]) for _ in range(3)]
    agent = await server.agent("silent")
    body = {"timeout": 0, "limit": 2, "running": [], "token": "silent-1"}
    got = await server.call("POST", f"/agents/{agent}/claim", json=body)
    assert sorted(r["id"] for r in got["flow_runs"]) == sorted([first["id"], second["id"]])
    old = await server.agent("old-style")
    got = await server.call("POST", f"/agents/{old}/claim", json={"timeout": 0, "limit": 1})
    assert [r["id"] for r in got["flow_runs"]] == [untokened["id"]]
    # The process is gone: it never claims again, so it never renews its leases.

    async def handed_back() -> list[dict[str, Any]] | None:
        runs = [await server.call("GET", f"/flow-runs/{r['id']}") for r in (first, second)]
        return runs if all(r["state_type"] == "Scheduled" for r in runs) else None

    for current in await until(handed_back):
        assert (
            current["state_message"] == "Handed back: the agent that claimed the run went silent."
        )
        assert current["times_resurrected"] == 0
    untouched = await server.call("GET", f"/flow-runs/{untokened['id']}")
    assert untouched["state_type"] == "Submitted"  # no token: only the submitted timeout


async def test_a_claiming_process_keeps_its_leases(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    agent = await server.agent("busy")
    body: dict[str, Any] = {"timeout": 0, "limit": 1, "running": [], "token": "busy-1"}
    got = await server.call("POST", f"/agents/{agent}/claim", json=body)
    assert [r["id"] for r in got["flow_runs"]] == [run["id"]]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0  # three leases
    while loop.time() < deadline:
        body = {"timeout": 0.2, "limit": 0, "running": [run["id"]], "token": "busy-1"}
        await server.call("POST", f"/agents/{agent}/claim", json=body)
    assert (await server.call("GET", f"/flow-runs/{run['id']}"))["state_type"] == "Submitted"


async def test_a_waiting_long_poll_renews_its_leases(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    agent = await server.agent("waiting")
    body: dict[str, Any] = {"timeout": 0, "limit": 1, "running": [], "token": "wait-1"}
    got = await server.call("POST", f"/agents/{agent}/claim", json=body)
    assert [r["id"] for r in got["flow_runs"]] == [run["id"]]
    # One long-poll of three leases: the server renews the listed run's lease meanwhile.
    body = {"timeout": 3.0, "limit": 0, "running": [run["id"]], "token": "wait-1"}
    await server.call("POST", f"/agents/{agent}/claim", json=body)
    assert (await server.call("GET", f"/flow-runs/{run['id']}"))["state_type"] == "Submitted"
