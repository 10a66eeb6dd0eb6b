"""Concurrency limits: flow runs by label at claim time, task runs by tag at Running.

Every test runs on SQLite and PostgreSQL; the races use two app instances on the same
database (two engines and connection pools, as two server processes would have).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _push_support import Live, fresh_database, live, live_server, until

KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
FAST = {"reaper_interval": 0.05, "heartbeat_timeout": 1.5, "submitted_timeout": 30.0}


@pytest.fixture(params=KINDS)
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live(request.param, start_services=False) as srv:
        yield srv


@pytest.fixture(params=KINDS)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Live, Live]]:
    """Two servers on one database."""
    async with (
        fresh_database(request.param) as url,
        live_server(url, start_services=False) as one,
        live_server(url, start_services=False) as two,
    ):
        yield one, two


async def parked(server: Live, before: int) -> None:
    """Wait until one more long-poll than ``before`` is subscribed to the event bus."""
    bus = server.app.state.events

    async def subscribed() -> bool:
        return bool(bus.subscriber_count > before)

    await until(subscribed, what="the long-poll to park")


async def claim(server: Live, agent_id: str, **body: Any) -> list[dict[str, Any]]:
    body.setdefault("timeout", 0)
    body.setdefault("limit", 10)
    answer = await server.call("POST", f"/agents/{agent_id}/claim", json=body)
    runs: list[dict[str, Any]] = answer["flow_runs"]
    return runs


async def set_flow_limit(server: Live, label: str, limit: int, expect: int = 201) -> Any:
    body = {"label": label, "limit": limit}
    return await server.call("POST", "/flow-concurrency-limits", expect, json=body)


async def set_tag_limit(server: Live, tag: str, limit: int, expect: int = 201) -> Any:
    return await server.call("POST", "/task-tag-limits", expect, json={"tag": tag, "limit": limit})


async def tagged_flow(server: Live, tasks: dict[str, list[str]]) -> dict[str, Any]:
    """A flow whose tasks (slug -> tags) are registered with their tags."""
    project = f"p-{uuid.uuid4().hex[:8]}"
    await server.call("POST", "/projects", json={"name": project})
    serialized = {"tasks": [{"slug": s, "name": s, "tags": t} for s, t in tasks.items()]}
    body = {"name": "tagged", "project_name": project, "serialized_flow": serialized}
    flow: dict[str, Any] = await server.call("POST", "/flows", json=body)
    return flow


async def running_flow_run(server: Live, flow_id: str) -> str:
    run = await server.run(flow_id)
    await server.set_state(run["id"], {"type": "Running"})
    return str(run["id"])


async def task_run(server: Live, flow_run_id: str, slug: str, map_index: int = -1) -> str:
    body = {"flow_run_id": flow_run_id, "task_slug": slug, "map_index": map_index}
    created = await server.call("POST", "/task-runs", json=body)
    return str(created["id"])


async def propose(server: Live, task_run_id: str, type_: str = "Running") -> dict[str, Any]:
    body = {"state": {"type": type_, "message": f"to {type_}"}}
    answer: dict[str, Any] = await server.call("POST", f"/task-runs/{task_run_id}/state", json=body)
    return answer


# -- the limits themselves ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"), [("/flow-concurrency-limits", "label"), ("/task-tag-limits", "tag")]
)
async def test_limits_are_created_updated_listed_and_deleted(
    server: Live, path: str, key: str
) -> None:
    odd = "db/<b>[red]x[/red]</b> ü"
    created = await server.call("POST", path, 201, json={key: odd, "limit": 3})
    assert created[key] == odd and created["limit"] == 3 and created["running"] == 0
    again = await server.call("POST", path, 200, json={key: odd, "limit": 3})
    assert again["id"] == created["id"]
    updated = await server.call("POST", path, 200, json={key: odd, "limit": 0})
    assert updated["id"] == created["id"] and updated["limit"] == 0
    other = await server.call("POST", path, 201, json={key: "aaa", "limit": 1})
    listed = await server.call("GET", path)
    assert [item[key] for item in listed] == ["aaa", odd]
    assert await server.call("GET", path, params={key: odd}) == [
        await server.call("GET", f"{path}/{created['id']}")
    ]
    assert await server.call("GET", path, params={key: "none"}) == []
    await server.call("DELETE", f"{path}/{created['id']}", 204)
    missing = await server.call("DELETE", f"{path}/{created['id']}", 404)
    assert created["id"] in missing["detail"]
    await server.call("GET", f"{path}/{created['id']}", 404)
    assert [item["id"] for item in await server.call("GET", path)] == [other["id"]]


_MISSING = object()


@pytest.mark.parametrize(
    ("path", "key"), [("/flow-concurrency-limits", "label"), ("/task-tag-limits", "tag")]
)
@pytest.mark.parametrize(
    ("name", "limit", "field"),
    [
        ("ok", -1, "limit"),
        ("ok", 2**31, "limit"),
        ("ok", "many", "limit"),
        ("ok", 1.5, "limit"),
        ("ok", _MISSING, "limit"),
        ("", 1, "name"),
        ("x" * 256, 1, "name"),
        (_MISSING, 1, "name"),
    ],
)
async def test_bad_limits_are_422_naming_the_field(
    server: Live, path: str, key: str, name: Any, limit: Any, field: str
) -> None:
    body = {k: v for k, v in ((key, name), ("limit", limit)) if v is not _MISSING}
    answer = await server.call("POST", path, 422, json=body)
    assert (key if field == "name" else "limit") in answer["detail"]
    assert await server.call("GET", path) == []


# -- flow runs by label ------------------------------------------------------------------


async def test_claims_stay_within_a_label_limit(server: Live) -> None:
    flow = await server.flow()
    limited = [await server.run(flow["id"], labels=["small"]) for _ in range(3)]
    both = await server.run(flow["id"], labels=["small", "other"])
    free = await server.run(flow["id"], labels=["other"])
    await set_flow_limit(server, "small", 1)
    agent = await server.agent("a", ["small", "other"])

    got = await claim(server, agent)
    assert {r["id"] for r in got} == {limited[0]["id"], free["id"]}
    assert await claim(server, agent) == []
    listed = await server.call("GET", "/flow-concurrency-limits")
    assert listed[0]["running"] == 1
    # The waiting runs are untouched: Scheduled, with no extra history.
    for run in [*limited[1:], both]:
        history = await server.call("GET", f"/flow-runs/{run['id']}/states")
        assert [h["state"]["type"] for h in history] == ["Scheduled"]

    # Running and Cancelling still hold the slot; a final state frees it.
    await server.set_state(limited[0]["id"], {"type": "Running"})
    assert await claim(server, agent) == []
    await server.set_state(limited[0]["id"], {"type": "Success"})
    got = await claim(server, agent)
    assert [r["id"] for r in got] == [limited[1]["id"]]

    # Raising the limit lets more through; deleting it lets everything through.
    await set_flow_limit(server, "small", 2, expect=200)
    assert [r["id"] for r in await claim(server, agent)] == [limited[2]["id"]]
    (limit,) = await server.call("GET", "/flow-concurrency-limits", params={"label": "small"})
    await server.call("DELETE", f"/flow-concurrency-limits/{limit['id']}", 204)
    assert [r["id"] for r in await claim(server, agent)] == [both["id"]]


async def test_a_zero_limit_holds_every_run_and_other_labels_pass(server: Live) -> None:
    flow = await server.flow()
    held = await server.run(flow["id"], labels=["frozen"])
    await set_flow_limit(server, "frozen", 0)
    await set_flow_limit(server, "elsewhere", 0)
    agent = await server.agent("z", ["frozen"])
    unlabelled_agent = await server.agent("plain")
    plain = await server.run(flow["id"])
    assert await claim(server, agent) == []
    assert [r["id"] for r in await claim(server, unlabelled_agent)] == [plain["id"]]
    assert (await server.call("GET", f"/flow-runs/{held['id']}"))["state_type"] == "Scheduled"


async def test_racing_claimers_on_two_servers_never_exceed_the_limit(
    pair: tuple[Live, Live],
) -> None:
    one, two = pair
    flow = await one.flow()
    runs = [await one.run(flow["id"], labels=["db"]) for _ in range(12)]
    await set_flow_limit(one, "db", 2)
    agents = [await one.agent(f"racer-{i}", ["db"]) for i in range(6)]
    servers = [one, two] * 3
    claimed: Counter[str] = Counter()

    for _round in range(6):
        results = await asyncio.gather(
            *(claim(srv, agent, limit=3) for srv, agent in zip(servers, agents, strict=True))
        )
        got = [r["id"] for answer in results for r in answer]
        assert len(got) == 2, got  # exactly the free slots, never more
        claimed.update(got)
        for run_id in got:
            await one.set_state(run_id, {"type": "Success"})
    assert set(claimed) == {r["id"] for r in runs}
    assert set(claimed.values()) == {1}


async def test_a_waiting_claim_wakes_when_a_slot_frees(server: Live) -> None:
    flow = await server.flow()
    first = await server.run(flow["id"], labels=["gpu"])
    second = await server.run(flow["id"], labels=["gpu"])
    await set_flow_limit(server, "gpu", 1)
    agent = await server.agent("g", ["gpu"])
    assert [r["id"] for r in await claim(server, agent)] == [first["id"]]

    loop = asyncio.get_running_loop()
    started = loop.time()
    before = server.app.state.events.subscriber_count
    waiting = asyncio.create_task(claim(server, agent, timeout=120))
    await parked(server, before)
    assert not waiting.done()
    await server.set_state(first["id"], {"type": "Running"})
    await server.set_state(first["id"], {"type": "Failed"})
    got = await asyncio.wait_for(waiting, 150)
    assert [r["id"] for r in got] == [second["id"]]
    assert loop.time() - started < 120  # woken by the event, not by the long-poll's end


async def test_a_waiting_claim_wakes_when_the_limit_is_raised(server: Live) -> None:
    flow = await server.flow()
    await server.run(flow["id"], labels=["io"])
    await server.run(flow["id"], labels=["io"])
    await set_flow_limit(server, "io", 1)
    agent = await server.agent("i", ["io"])
    assert len(await claim(server, agent)) == 1
    loop = asyncio.get_running_loop()
    started = loop.time()
    before = server.app.state.events.subscriber_count
    waiting = asyncio.create_task(claim(server, agent, timeout=120))
    await parked(server, before)
    await set_flow_limit(server, "io", 2, expect=200)
    assert len(await asyncio.wait_for(waiting, 150)) == 1
    assert loop.time() - started < 120


# -- task runs by tag --------------------------------------------------------------------


async def test_a_task_run_over_its_tag_limit_is_queued_once(server: Live) -> None:
    flow = await tagged_flow(server, {"load": ["db", "io"], "plain": []})
    flow_run = await running_flow_run(server, flow["id"])
    runs = [await task_run(server, flow_run, "load", i) for i in range(3)]
    free = await task_run(server, flow_run, "plain")
    await set_tag_limit(server, "db", 2)

    assert [(await propose(server, r))["status"] for r in runs[:2]] == ["accepted"] * 2
    answer = await propose(server, runs[2])
    assert answer["status"] == "queued"
    assert answer["state"]["type"] == "Queued"
    assert "'db' (limit 2)" in answer["detail"] and "'io'" not in answer["detail"]
    assert (await propose(server, free))["status"] == "accepted"
    # Asking again while still full changes nothing: one Queued entry in the history.
    again = await propose(server, runs[2])
    assert again["status"] == "queued" and again["version"] == answer["version"]
    listed = await server.call("GET", "/task-tag-limits")
    assert listed[0]["running"] == 2

    wait = await server.call("GET", f"/task-runs/{runs[2]}/wait-for-slot", params={"timeout": 0})
    assert wait == {"available": False, "state_type": "Queued", "full_tags": ["db"]}

    await propose(server, runs[0], "Success")
    wait = await server.call("GET", f"/task-runs/{runs[2]}/wait-for-slot", params={"timeout": 0})
    assert wait["available"] is True
    assert (await propose(server, runs[2]))["status"] == "accepted"
    history = await server.call("GET", f"/task-runs/{runs[2]}/states")
    assert [h["state"]["type"] for h in history] == ["Pending", "Queued", "Running"]


async def test_each_limited_tag_needs_room(server: Live) -> None:
    flow = await tagged_flow(server, {"a": ["x"], "b": ["y"], "ab": ["x", "y"]})
    flow_run = await running_flow_run(server, flow["id"])
    await set_tag_limit(server, "x", 1)
    await set_tag_limit(server, "y", 1)
    a, b, ab = [await task_run(server, flow_run, s) for s in ("a", "b", "ab")]
    assert (await propose(server, a))["status"] == "accepted"
    answer = await propose(server, ab)
    assert answer["status"] == "queued" and "'x'" in answer["detail"]
    assert (await propose(server, b))["status"] == "accepted"
    await propose(server, a, "Success")
    assert (await propose(server, ab))["status"] == "queued"  # y is still taken
    await propose(server, b, "Failed")
    assert (await propose(server, ab))["status"] == "accepted"


async def test_tags_come_from_the_registered_flow_not_the_caller(server: Live) -> None:
    flow = await tagged_flow(server, {"untagged": []})
    flow_run = await running_flow_run(server, flow["id"])
    await set_tag_limit(server, "db", 0)
    one = await task_run(server, flow_run, "untagged")
    body = {"state": {"type": "Running", "context": {"tags": ["db"]}}}
    answer = await server.call("POST", f"/task-runs/{one}/state", json=body)
    assert answer["status"] == "accepted"
    unknown = await task_run(server, flow_run, "not-in-the-flow")
    assert (await propose(server, unknown))["status"] == "accepted"


async def test_a_retrying_or_looping_task_run_gives_its_slot_back(server: Live) -> None:
    flow = await tagged_flow(server, {"t": ["api"]})
    flow_run = await running_flow_run(server, flow["id"])
    await set_tag_limit(server, "api", 1)
    first, second = [await task_run(server, flow_run, "t", i) for i in range(2)]
    assert (await propose(server, first))["status"] == "accepted"
    # A running task run asking for Running again keeps its slot.
    assert (await propose(server, first))["status"] == "accepted"
    assert (await propose(server, second))["status"] == "queued"
    await propose(server, first, "Retrying")
    assert (await propose(server, second))["status"] == "accepted"
    assert (await propose(server, first))["status"] == "queued"


async def test_task_runs_of_a_finished_flow_run_hold_no_slot(server: Live) -> None:
    flow = await tagged_flow(server, {"t": ["db"]})
    dead = await running_flow_run(server, flow["id"])
    stale = await task_run(server, dead, "t")
    await set_tag_limit(server, "db", 1)
    assert (await propose(server, stale))["status"] == "accepted"
    alive = await running_flow_run(server, flow["id"])
    waiting = await task_run(server, alive, "t")
    assert (await propose(server, waiting))["status"] == "queued"
    # The process died and its run was marked Failed by hand: the task run stays Running
    # in the database, but holds nothing any more.
    await server.set_state(dead, {"type": "Failed"})
    assert (await server.call("GET", f"/task-runs/{stale}"))["state_type"] == "Running"
    assert (await propose(server, waiting))["status"] == "accepted"


async def test_cancelling_the_flow_run_frees_its_slots(server: Live) -> None:
    flow = await tagged_flow(server, {"t": ["db"]})
    first = await running_flow_run(server, flow["id"])
    holder = await task_run(server, first, "t")
    queued_in_first = await task_run(server, first, "t", 0)
    await set_tag_limit(server, "db", 1)
    await propose(server, holder)
    assert (await propose(server, queued_in_first))["status"] == "queued"
    second = await running_flow_run(server, flow["id"])
    waiting = await task_run(server, second, "t")
    assert (await propose(server, waiting))["status"] == "queued"

    cancelled = await server.call("POST", f"/flow-runs/{first}/cancel", json={"cascade": True})
    assert cancelled["state"] == "Cancelling"
    # While cancelling, a queued task run of that flow run may not start.
    refused = await propose(server, queued_in_first)
    assert refused["status"] == "rejected"
    await server.set_state(first, {"type": "Cancelled"})
    for one in (holder, queued_in_first):
        assert (await server.call("GET", f"/task-runs/{one}"))["state_type"] == "Cancelled"
    assert (await propose(server, waiting))["status"] == "accepted"


async def test_the_slot_wait_wakes_when_a_slot_frees_or_the_limit_goes(server: Live) -> None:
    flow = await tagged_flow(server, {"t": ["db"]})
    flow_run = await running_flow_run(server, flow["id"])
    holder, waiting = [await task_run(server, flow_run, "t", i) for i in range(2)]
    await set_tag_limit(server, "db", 1)
    await propose(server, holder)
    await propose(server, waiting)
    loop = asyncio.get_running_loop()

    async def wait() -> dict[str, Any]:
        answer: dict[str, Any] = await server.call(
            "GET", f"/task-runs/{waiting}/wait-for-slot", params={"timeout": 120}
        )
        return answer

    started = loop.time()
    before = server.app.state.events.subscriber_count
    pending = asyncio.create_task(wait())
    await parked(server, before)
    assert not pending.done()
    await propose(server, holder, "Success")
    assert (await asyncio.wait_for(pending, 150))["available"] is True
    assert loop.time() - started < 120

    other = await task_run(server, flow_run, "t", 2)
    await propose(server, waiting)
    assert (await propose(server, other))["status"] == "queued"
    started = loop.time()
    before = server.app.state.events.subscriber_count
    pending = asyncio.create_task(
        server.call("GET", f"/task-runs/{other}/wait-for-slot", params={"timeout": 120})
    )
    await parked(server, before)
    (limit,) = await server.call("GET", "/task-tag-limits")
    await server.call("DELETE", f"/task-tag-limits/{limit['id']}", 204)
    assert (await asyncio.wait_for(pending, 150))["available"] is True
    assert loop.time() - started < 120
    assert (await propose(server, other))["status"] == "accepted"


async def test_the_slot_wait_of_an_unknown_task_run_is_404(server: Live) -> None:
    answer = await server.call("GET", f"/task-runs/{uuid.uuid4()}/wait-for-slot", 404)
    assert "not found" in answer["detail"]


async def test_racing_task_runs_on_two_servers_never_exceed_the_limit(
    pair: tuple[Live, Live],
) -> None:
    one, two = pair
    flow = await tagged_flow(one, {"m": ["db"]})
    flow_run = await running_flow_run(one, flow["id"])
    runs = [await task_run(one, flow_run, "m", i) for i in range(10)]
    await set_tag_limit(one, "db", 2)
    done: set[str] = set()
    for _round in range(5):
        waiting = [r for r in runs if r not in done]
        answers = await asyncio.gather(
            *(propose(one if i % 2 else two, r) for i, r in enumerate(waiting))
        )
        started = [r for r, a in zip(waiting, answers, strict=True) if a["status"] == "accepted"]
        assert len(started) == 2, answers
        for r in started:
            await propose(one, r, "Success")
        done.update(started)
    assert done == set(runs)
    for r in runs:
        history = await one.call("GET", f"/task-runs/{r}/states")
        types = [h["state"]["type"] for h in history]
        assert types.count("Running") == 1 and types.count("Queued") <= 1


@pytest.fixture(params=KINDS)
async def reaping(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    # No resurrections: the reaper fails a run whose process is gone.
    async with live(request.param, **FAST, max_resurrections=0) as srv:
        yield srv


@pytest.fixture(params=KINDS)
async def resurrecting(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    # Lazarus on (the default): the reaper schedules such a run again.
    async with live(request.param, **FAST, max_resurrections=3) as srv:
        yield srv


async def _slot_freed_by_the_reaper(server: Live) -> tuple[str, str]:
    """A dead run holding the only slot of tag "db", and a live run waiting for it.

    Returns the dead run and its task run once the live run's task run was admitted.
    """
    flow = await tagged_flow(server, {"t": ["db"]})
    dead = await running_flow_run(server, flow["id"])
    holder = await task_run(server, dead, "t")
    await set_tag_limit(server, "db", 1)
    await propose(server, holder)
    alive = await running_flow_run(server, flow["id"])
    waiting = await task_run(server, alive, "t")

    async def admitted() -> bool:
        # Keep the live run beating, as its process would, until the dead one is reaped.
        await server.call("POST", f"/flow-runs/{alive}/heartbeat", expect=204)
        return bool((await propose(server, waiting))["status"] == "accepted")

    await until(admitted, timeout=60, interval=0.1)
    return dead, holder


async def test_the_reaper_frees_the_slots_of_a_dead_process(reaping: Live) -> None:
    dead, holder = await _slot_freed_by_the_reaper(reaping)
    assert (await reaping.call("GET", f"/task-runs/{holder}"))["state_type"] == "Failed"
    assert (await reaping.call("GET", f"/flow-runs/{dead}"))["state_type"] == "Failed"


async def test_a_resurrected_run_gives_its_slots_back(resurrecting: Live) -> None:
    dead, holder = await _slot_freed_by_the_reaper(resurrecting)
    # Lazarus reset the task run to Pending, which holds no slot, and queued the run again.
    assert (await resurrecting.call("GET", f"/task-runs/{holder}"))["state_type"] == "Pending"
    run = await resurrecting.call("GET", f"/flow-runs/{dead}")
    assert run["state_type"] == "Scheduled"
    assert "Lazarus" in run["state_message"]
