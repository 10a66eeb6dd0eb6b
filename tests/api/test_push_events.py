"""Event bus: in-process fan-out, filters, no lost wake-ups, and PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from headwater.server.events import RESYNC, Event, EventBus, postgres_dsn
from support.waiting import wait_until_async

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def test_local_fan_out_and_filters() -> None:
    bus = EventBus("sqlite+aiosqlite:///:memory:")
    await bus.start()
    try:
        async with (
            bus.subscribe(flow_run_id="a") as only_a,
            bus.subscribe(kinds=frozenset({"logs"})) as only_logs,
            bus.subscribe() as everything,
        ):
            await bus.publish(Event("flow_run.state", flow_run_id="a", data={"version": 2}))
            await bus.publish(Event("logs", flow_run_id="b", data={"count": 1}))
            got_a = await only_a.wait(1)
            assert got_a is not None and got_a.data == {"version": 2}
            assert await only_a.wait(0) is None
            got_logs = await only_logs.wait(1)
            assert got_logs is not None and got_logs.flow_run_id == "b"
            assert await only_logs.wait(0) is None
            assert [e.kind for e in everything.drain()] == ["flow_run.state", "logs"]
        assert bus.subscriber_count == 0
    finally:
        await bus.stop()


async def test_event_published_before_wait_is_not_lost() -> None:
    bus = EventBus("sqlite:///x.db")
    async with bus.subscribe(flow_run_id="r") as sub:
        # Published after subscribing but before waiting: the wait must still see it.
        await bus.publish(Event("flow_run.state", flow_run_id="r"))
        event = await sub.wait(5)
        assert event is not None and event.kind == "flow_run.state"


async def test_wait_times_out_and_wakes_promptly() -> None:
    bus = EventBus("sqlite:///x.db")
    async with bus.subscribe(flow_run_id="r") as sub:
        assert await sub.wait(0.01) is None
        waiter = asyncio.create_task(sub.wait(30))
        await asyncio.sleep(0)
        await bus.publish(Event("flow_run.state", flow_run_id="r"))
        event = await asyncio.wait_for(waiter, 5)
        assert event is not None


async def test_wait_outside_context_is_an_error() -> None:
    bus = EventBus("sqlite:///x.db")
    sub = bus.subscribe()
    with pytest.raises(RuntimeError, match="open subscription"):
        await sub.wait(0)


async def test_publish_from_another_thread_reaches_subscriber() -> None:
    bus = EventBus("sqlite:///x.db")
    async with bus.subscribe(flow_run_id="t") as sub:
        await asyncio.to_thread(bus.publish_nowait, Event("flow_run.state", flow_run_id="t"))
        assert await sub.wait(5) is not None


def test_postgres_dsn() -> None:
    assert postgres_dsn("postgresql+asyncpg://u@h:1/db") == "postgresql://u@h:1/db"
    assert postgres_dsn("postgres://u@h/db") == "postgresql://u@h/db"
    assert postgres_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
    assert postgres_dsn("sqlite+aiosqlite:///x.db") is None
    assert postgres_dsn("/tmp/x.db") is None


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    asyncpg = pytest.importorskip("asyncpg")
    name = f"hw_events_{uuid.uuid4().hex[:12]}"
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


@pytest.mark.postgres
async def test_two_buses_on_postgres(pg_url: str) -> None:
    one, two = EventBus(pg_url), EventBus(pg_url.replace("postgresql", "postgresql+asyncpg"))
    await one.start()
    await two.start()
    try:
        assert one.listening and two.listening
        async with (
            one.subscribe(flow_run_id="x") as on_one,
            two.subscribe(flow_run_id="x") as on_two,
        ):
            await one.publish(Event("flow_run.state", flow_run_id="x", data={"version": 5}))
            remote = await on_two.wait(10)
            assert remote is not None and remote.data == {"version": 5}
            local = await on_one.wait(1)
            assert local is not None
            # The origin's own NOTIFY echoes back to it and must be ignored: give it the
            # chance to arrive (a round trip through the other bus proves it has).
            await two.publish(Event("flow_run.state", flow_run_id="x", data={"version": 6}))
            nxt = await on_one.wait(10)
            assert nxt is not None and nxt.data == {"version": 6}
            assert on_one.drain() == []
    finally:
        await one.stop()
        await two.stop()


@pytest.mark.postgres
async def test_large_payload_is_trimmed_and_batches_split(pg_url: str) -> None:
    one, two = EventBus(pg_url), EventBus(pg_url)
    await one.start()
    await two.start()
    try:
        async with two.subscribe() as sub:
            await one.publish(Event("logs", flow_run_id="big", data={"blob": "x" * 20_000}))
            for i in range(300):
                one.publish_nowait(Event("task_run.state", flow_run_id=f"r{i}", data={"i": i}))
            first = await sub.wait(10)
            assert first is not None and first.flow_run_id == "big" and first.data == {}
            seen = []
            while len(seen) < 300:
                ev = await sub.wait(10)
                assert ev is not None
                seen.append(ev.data["i"])
            assert seen == list(range(300))
    finally:
        await one.stop()
        await two.stop()


@pytest.mark.postgres
async def test_listener_reconnects_and_resyncs(pg_url: str) -> None:
    asyncpg = pytest.importorskip("asyncpg")
    one, two = EventBus(pg_url), EventBus(pg_url)
    await one.start()
    await two.start()
    try:
        async with two.subscribe(flow_run_id="z") as sub:
            admin = await asyncpg.connect(pg_url)
            try:
                # Kill every other backend on this database: both buses lose LISTEN.
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            resync = await sub.wait(30)
            assert resync is not None and resync.kind == RESYNC

            async def both_listening() -> bool:
                return bool(one.listening and two.listening)

            await wait_until_async(both_listening, interval=0.05, what="LISTEN to resume")
            await one.publish(Event("flow_run.state", flow_run_id="z"))
            event = await sub.wait(10)
            while event is not None and event.kind == RESYNC:
                event = await sub.wait(10)
            assert event is not None and event.kind == "flow_run.state"
    finally:
        await one.stop()
        await two.stop()


@pytest.mark.postgres
async def test_outbox_overflow_makes_other_processes_resync(pg_url: str) -> None:
    import collections

    one, two = EventBus(pg_url), EventBus(pg_url)
    await one.start()
    await two.start()
    try:
        one._outbox = collections.deque(maxlen=10)
        async with two.subscribe(flow_run_id="o") as sub:
            # No await in between: the sender cannot drain, so the outbox overflows.
            for i in range(50):
                one.publish_nowait(Event("flow_run.state", flow_run_id="o", data={"i": i}))
            first = await sub.wait(10)
            assert first is not None and first.kind == RESYNC
            rest = []
            while len(rest) < 10:
                event = await sub.wait(10)
                assert event is not None
                rest.append(event.data["i"])
            assert rest == list(range(40, 50))
    finally:
        await one.stop()
        await two.stop()
