"""POST /agents/{id}/claim: atomic claims, the label rule, due times, cancellations."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _push_support import Live, live

from headwater.server.orchestration.claims import labels_fit


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live(request.param, start_services=False) as srv:
        yield srv


async def claim(server: Live, agent_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("timeout", 0)
    result: dict[str, Any] = await server.call("POST", f"/agents/{agent_id}/claim", json=body)
    return result


@pytest.mark.parametrize(
    ("run", "agent", "fits"),
    [
        ([], [], True),
        ([], ["a"], False),
        (["a"], [], False),
        (["a"], ["a"], True),
        (["a"], ["a", "b"], True),
        (["a", "b"], ["a"], False),
        (["a", "b"], ["b", "a", "c"], True),
        (None, None, True),
        (None, ["a"], False),
    ],
)
def test_label_rule(run: list[str] | None, agent: list[str] | None, fits: bool) -> None:
    assert labels_fit(run, agent) is fits


async def test_claim_race_claims_each_run_exactly_once(server: Live) -> None:
    flow = await server.flow()
    runs = await asyncio.gather(*(server.run(flow["id"]) for _ in range(50)))
    agents = [await server.agent(f"racer-{i}") for i in range(4)]

    async def claimer(agent_id: str) -> list[str]:
        got: list[str] = []
        while True:
            answer = await claim(server, agent_id, limit=3)
            if not answer["flow_runs"]:
                return got
            for run in answer["flow_runs"]:
                assert run["state_type"] == "Submitted"
                assert run["agent_id"] == agent_id
                got.append(run["id"])

    results = await asyncio.gather(*(claimer(a) for a in agents))
    counts = Counter(run_id for got in results for run_id in got)
    assert set(counts) == {r["id"] for r in runs}
    assert set(counts.values()) == {1}
    # Every run is Submitted exactly once in its history, to the agent that got it.
    owner = {run_id: agents[i] for i, got in enumerate(results) for run_id in got}
    for run in runs[:5]:
        history = await server.call("GET", f"/flow-runs/{run['id']}/states")
        assert [h["state"]["type"] for h in history].count("Submitted") == 1
        current = await server.call("GET", f"/flow-runs/{run['id']}")
        assert current["agent_id"] == owner[run["id"]]


async def test_claim_follows_the_label_rule(server: Live) -> None:
    flow = await server.flow()
    plain = await server.run(flow["id"], labels=[])
    gpu = await server.run(flow["id"], labels=["gpu"])
    both = await server.run(flow["id"], labels=["gpu", "big"])
    labelled_agent = await server.agent("labelled", ["gpu"])
    bare_agent = await server.agent("bare", [])
    big_agent = await server.agent("big", ["big", "gpu", "x"])

    got = await claim(server, labelled_agent, limit=10)
    assert [r["id"] for r in got["flow_runs"]] == [gpu["id"]]
    got = await claim(server, bare_agent, limit=10)
    assert [r["id"] for r in got["flow_runs"]] == [plain["id"]]
    got = await claim(server, big_agent, limit=10)
    assert [r["id"] for r in got["flow_runs"]] == [both["id"]]
    assert (await claim(server, big_agent, limit=10))["flow_runs"] == []


async def test_claim_takes_oldest_first_and_respects_limit(server: Live) -> None:
    flow = await server.flow()
    now = dt.datetime.now(dt.UTC)
    late = await server.run(flow["id"], start=now - dt.timedelta(minutes=1))
    later = await server.run(flow["id"], start=now - dt.timedelta(minutes=5))
    agent = await server.agent("one")
    first = await claim(server, agent, limit=1)
    assert [r["id"] for r in first["flow_runs"]] == [later["id"]]
    second = await claim(server, agent, limit=1)
    assert [r["id"] for r in second["flow_runs"]] == [late["id"]]
    limit_zero = await claim(server, agent, limit=0)
    assert limit_zero == {"flow_runs": [], "cancel": []}


async def test_future_run_is_claimed_when_due_not_before(server: Live) -> None:
    flow = await server.flow()
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.0)
    run = await server.run(flow["id"], start=start)
    agent = await server.agent("patient")
    assert (await claim(server, agent, timeout=0))["flow_runs"] == []
    answer = await claim(server, agent, timeout=20)
    assert [r["id"] for r in answer["flow_runs"]] == [run["id"]]
    assert dt.datetime.now(dt.UTC) >= start


async def test_long_poll_wakes_on_a_new_run(server: Live) -> None:
    flow = await server.flow()
    agent = await server.agent("waiting")
    poll = asyncio.create_task(claim(server, agent, timeout=60))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done
    run = await server.run(flow["id"])
    answer = await asyncio.wait_for(poll, 30)
    assert [r["id"] for r in answer["flow_runs"]] == [run["id"]]


async def test_long_poll_times_out_empty(server: Live) -> None:
    agent = await server.agent("idle")
    before = await server.call("GET", "/agents")
    answer = await claim(server, agent, timeout=0.2)
    assert answer == {"flow_runs": [], "cancel": []}
    after = {a["id"]: a for a in await server.call("GET", "/agents")}
    seen_before = {a["id"]: a["last_seen"] for a in before}
    assert after[agent]["last_seen"] is not None
    assert after[agent]["last_seen"] != seen_before.get(agent) or seen_before.get(agent) is None


async def test_cancel_lists_runs_to_stop_and_returns_at_once(server: Live) -> None:
    flow = await server.flow()
    agent = await server.agent("runner")
    run = await server.run(flow["id"])
    other = await server.run(flow["id"])
    got = await claim(server, agent, limit=2)
    assert {r["id"] for r in got["flow_runs"]} == {run["id"], other["id"]}
    for r in (run, other):
        await server.set_state(r["id"], {"type": "Running"})
    running = [run["id"], other["id"], "00000000-0000-0000-0000-000000000000"]
    poll = asyncio.create_task(claim(server, agent, timeout=60, running=running))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    # The unknown id (a deleted run) must be stopped too, so the poll returns at once.
    assert done
    assert poll.result()["cancel"] == ["00000000-0000-0000-0000-000000000000"]
    poll = asyncio.create_task(claim(server, agent, timeout=60, running=running[:2]))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done
    await server.call("POST", f"/flow-runs/{run['id']}/cancel", json={"cascade": True})
    answer = await asyncio.wait_for(poll, 30)
    assert answer["cancel"] == [run["id"]]
    assert answer["flow_runs"] == []


async def test_claim_bad_input(server: Live) -> None:
    missing = await server.client.post(
        "/agents/00000000-0000-0000-0000-000000000000/claim", json={"timeout": 0}
    )
    assert missing.status_code == 404 and "Agent" in missing.json()["detail"]
    agent = await server.agent("strict")
    for body in ({"timeout": 301}, {"limit": -1}, {"limit": "many"}, {"running": "x"}):
        response = await server.client.post(f"/agents/{agent}/claim", json=body)
        assert response.status_code == 422, (body, response.text)
    response = await server.client.post(
        f"/agents/{agent}/claim", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_long_poll_wakes_when_labels_start_to_fit(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"], labels=["b"])
    agent = await server.agent("a-agent", ["a"])
    poll = asyncio.create_task(claim(server, agent, timeout=60))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done
    await server.call("POST", f"/flow-runs/{run['id']}/labels", json={"labels": ["a"]})
    answer = await asyncio.wait_for(poll, 30)
    assert [r["id"] for r in answer["flow_runs"]] == [run["id"]]


async def test_long_poll_wakes_when_a_run_is_rescheduled(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    agent = await server.agent("again")
    first = await claim(server, agent)
    assert [r["id"] for r in first["flow_runs"]] == [run["id"]]
    poll = asyncio.create_task(claim(server, agent, timeout=60))
    done, _ = await asyncio.wait({poll}, timeout=0.2)
    assert not done
    await server.set_state(run["id"], {"type": "Scheduled", "message": "again"})
    answer = await asyncio.wait_for(poll, 30)
    assert [r["id"] for r in answer["flow_runs"]] == [run["id"]]


async def test_full_agent_waits_only_for_its_own_runs(server: Live) -> None:
    flow = await server.flow()
    agent = await server.agent("full")
    mine = await server.run(flow["id"])
    got = await claim(server, agent)
    assert [r["id"] for r in got["flow_runs"]] == [mine["id"]]
    await server.set_state(mine["id"], {"type": "Running"})
    poll = asyncio.create_task(claim(server, agent, timeout=60, limit=0, running=[mine["id"]]))
    other = await server.run(flow["id"])  # due, but the agent has no free slot
    done, _ = await asyncio.wait({poll}, timeout=0.3)
    assert not done
    await server.call("POST", f"/flow-runs/{mine['id']}/cancel", json={"cascade": True})
    answer = await asyncio.wait_for(poll, 30)
    assert answer == {"flow_runs": [], "cancel": [mine["id"]]}
    current = await server.call("GET", f"/flow-runs/{other['id']}")
    assert current["state_type"] == "Scheduled"
