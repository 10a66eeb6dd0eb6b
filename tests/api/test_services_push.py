"""Background services with short intervals: the reaper and the late-run reporter."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _push_support import Live, fresh_database, live, live_server, until

from headwater.server.services.late_runs import LOGGER_NAME, describe_late_run
from headwater.server.services.reaper import MAX_RESURRECTIONS

FAST = {
    "reaper_interval": 0.05,
    "heartbeat_timeout": 1.5,
    "submitted_timeout": 0.4,
    "late_runs_interval": 0.05,
    "late_after": 0.2,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live(request.param, **FAST) as srv:
        yield srv


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def no_lazarus(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    """A server whose reaper fails lost runs instead of resuming them."""
    async with live(request.param, **FAST, max_resurrections=0) as srv:
        yield srv


async def state_of(server: Live, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = await server.call("GET", f"/flow-runs/{run_id}")
    return run


async def test_running_run_without_heartbeat_is_failed(no_lazarus: Live) -> None:
    server = no_lazarus
    flow = await server.flow()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Running"})
    body = {"flow_run_id": run["id"], "task_slug": "t-1"}
    task_run = await server.call("POST", "/task-runs", json=body)
    await server.call(
        "POST", f"/task-runs/{task_run['id']}/state", json={"state": {"type": "Running"}}
    )

    async def failed() -> dict[str, Any] | None:
        current = await state_of(server, run["id"])
        return current if current["state_type"] == "Failed" else None

    current = await until(failed)
    assert current["state_message"] == "No heartbeat detected from the flow run; marking it Failed."
    task_run = await server.call("GET", f"/task-runs/{task_run['id']}")
    assert task_run["state_type"] == "Failed"
    assert "No heartbeat detected" in task_run["state_message"]
    logs = await server.logs(run["id"])
    assert any(
        log["level"] == "ERROR" and "No heartbeat detected" in log["message"] for log in logs
    )


async def test_heartbeats_keep_a_run_alive(no_lazarus: Live) -> None:
    server = no_lazarus
    flow = await server.flow()
    alive = await server.run(flow["id"])
    dead = await server.run(flow["id"])
    await server.set_state(alive["id"], {"type": "Running"})
    await server.set_state(dead["id"], {"type": "Running"})

    async def dead_is_reaped() -> bool:
        # Keep the other run beating while waiting, as a flow-run process would.
        await server.call("POST", f"/flow-runs/{alive['id']}/heartbeat", expect=204)
        return bool((await state_of(server, dead["id"]))["state_type"] == "Failed")

    await until(dead_is_reaped, interval=0.05)
    assert (await state_of(server, alive["id"]))["state_type"] == "Running"


async def test_cancelling_run_without_heartbeat_is_failed(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    await server.set_state(run["id"], {"type": "Running"})
    await server.call("POST", f"/flow-runs/{run['id']}/cancel", json={"cascade": True})

    async def failed() -> bool:
        return bool((await state_of(server, run["id"]))["state_type"] == "Failed")

    await until(failed)


async def test_submitted_run_that_never_starts_is_requeued_then_failed(server: Live) -> None:
    flow = await server.flow()
    run = await server.run(flow["id"])
    agent = await server.agent("flaky")
    for attempt in range(1, MAX_RESURRECTIONS + 1):

        async def claimed() -> bool:
            got = await server.call(
                "POST", f"/agents/{agent}/claim", json={"timeout": 5, "limit": 1}
            )
            return bool([r["id"] for r in got["flow_runs"]] == [run["id"]])

        await until(claimed)

        async def requeued() -> dict[str, Any] | None:
            current = await state_of(server, run["id"])
            return current if current["state_type"] == "Scheduled" else None

        current = await until(requeued)
        assert current["times_resurrected"] == attempt
        assert "reaper" in current["state_message"]
    await until(claimed)

    async def failed() -> dict[str, Any] | None:
        current = await state_of(server, run["id"])
        return current if current["state_type"] == "Failed" else None

    current = await until(failed)
    assert "never started" in current["state_message"]
    messages = [log["message"] for log in await server.logs(run["id"])]
    assert sum("did not start within" in m for m in messages) == MAX_RESURRECTIONS


async def _backdate(server: Live, run_id: str, when: dt.datetime) -> None:
    """Make a run's last sign of life ``when``, as if the server had been down since."""
    from headwater.server.database import orm

    async with server.app.state.db.session() as session:
        row = await session.get(orm.FlowRun, run_id)
        row.heartbeat = when
        row.state_timestamp = when
        await session.commit()


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_reaper_does_not_count_server_downtime_after_a_restart(kind: str) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    async with fresh_database(kind) as url:
        async with live_server(url, start_services=False) as before:
            flow = await before.flow()
            silent, beating, submitted = [await before.run(flow["id"]) for _ in range(3)]
            for run in (silent, beating):
                await before.set_state(run["id"], {"type": "Running"})
            agent = await before.agent("restarted")
            got = await before.call(
                "POST", f"/agents/{agent}/claim", json={"timeout": 5, "limit": 1}
            )
            assert [r["id"] for r in got["flow_runs"]] == [submitted["id"]]
            for run in (silent, beating, submitted):
                await _backdate(before, run["id"], long_ago)

        restarted = dt.datetime.now(dt.UTC)
        async with live_server(url, **FAST) as after:
            # The reaper passes every 50 ms; without the grace all three runs would be
            # judged at its first pass, an hour past every threshold.
            async def silent_resumed() -> dict[str, Any] | None:
                await after.call("POST", f"/flow-runs/{beating['id']}/heartbeat", expect=204)
                current = await state_of(after, silent["id"])
                return current if current["state_type"] == "Scheduled" else None

            resumed = await until(silent_resumed, interval=0.05)
            grace = dt.timedelta(seconds=FAST["heartbeat_timeout"])
            assert _at(resumed["state_timestamp"]) >= restarted + grace
            assert "Lazarus" in resumed["state_message"]
            assert resumed["times_resurrected"] == 1
            assert (await state_of(after, beating["id"]))["state_type"] == "Running"
            requeued = await state_of(after, submitted["id"])
            assert requeued["state_type"] == "Scheduled"
            assert requeued["times_resurrected"] == 1
            started = _at(requeued["state_timestamp"])
            assert started >= restarted + dt.timedelta(seconds=FAST["submitted_timeout"])


async def test_late_run_is_reported_once(server: Live) -> None:
    flow = await server.flow()
    cpu = await server.agent("cpu-agent", ["cpu"])
    # A claim with limit 0 takes nothing but marks the agent healthy.
    await server.call("POST", f"/agents/{cpu}/claim", json={"timeout": 0, "limit": 0})
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    orphan = await server.run(flow["id"], labels=["gpu"], start=past)
    served = await server.run(flow["id"], labels=["cpu"], start=past)

    async def warnings(run_id: str) -> list[dict[str, Any]]:
        return [log for log in await server.logs(run_id) if log["name"] == LOGGER_NAME]

    async def reported() -> list[dict[str, Any]]:
        return await warnings(orphan["id"])

    first = await until(reported)
    assert first[0]["level"] == "WARNING"
    assert "gpu" in first[0]["message"] and "cpu-agent" in first[0]["message"]
    # Prove more passes ran: a second late run gets reported after the first.
    second = await server.run(flow["id"], labels=["gpu", "x"], start=past)

    async def second_reported() -> list[dict[str, Any]]:
        return await warnings(second["id"])

    await until(second_reported)
    assert len(await warnings(orphan["id"])) == 1
    # A healthy agent fits the other run: it is merely waiting, not reported.
    assert await warnings(served["id"]) == []


def test_late_run_message_without_agents() -> None:
    now = dt.datetime.now(dt.UTC)
    text = describe_late_run(labels=[], due=now - dt.timedelta(seconds=90), now=now, agents=[])
    assert "no labels" in text and "No agents are registered" in text and "90 s" in text


async def test_service_loop_survives_a_failing_pass_and_stops() -> None:
    import asyncio

    from headwater.server.services import Service

    class Flaky(Service):
        name = "flaky"

        def __init__(self) -> None:
            super().__init__(interval=0.01)
            self.calls = 0
            self.third = asyncio.Event()

        async def run_once(self) -> None:
            self.calls += 1
            if self.calls == 3:
                self.third.set()
            if self.calls == 1:
                raise RuntimeError("first pass breaks")

    service = Flaky()
    await service.start()
    assert service.running
    await asyncio.wait_for(service.third.wait(), 10)
    await service.stop()
    assert not service.running
    disabled = Flaky()
    disabled.interval = 0
    await disabled.start()
    assert not disabled.running
