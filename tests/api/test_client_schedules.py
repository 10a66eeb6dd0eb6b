"""The client's schedule methods against a real server, as a Prefect 1 user calls them."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from headwater import Flow, Parameter, task
from headwater.client import Client
from headwater.exceptions import ClientError, ObjectNotFound
from headwater.schedules import CronSchedule, IntervalSchedule, Schedule, clocks
from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)

UTC = dt.UTC


@task
def greet(who: str) -> str:
    return f"hello {who}"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def hw_server(request: pytest.FixtureRequest) -> Iterator[TemporaryServer]:
    if request.param == "sqlite":
        with temporary_server() as server:
            yield server
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url, temporary_server(database_url=url) as server:
        yield server


@pytest.fixture
def client(hw_server: TemporaryServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("HEADWATER_API_URL", hw_server.api_url)
    monkeypatch.delenv("HEADWATER_API_KEY", raising=False)
    with Client(retries=2) as c:
        yield c


@pytest.fixture
def project(client: Client) -> str:
    name = f"sched-{uuid.uuid4().hex[:8]}"
    client.create_project(name)
    return name


def _flow(schedule: Any, required: bool = False) -> Flow:
    with Flow(f"greeter-{uuid.uuid4().hex[:6]}", schedule=schedule) as flow:
        greet(Parameter("who") if required else Parameter("who", default="world"))
    return flow


def _auto(client: Client, group: str) -> list[dict[str, Any]]:
    return client.query_flow_runs(flow_group_id=group, auto_scheduled=True, limit=1000)


def test_register_switched_off_then_on_and_off_again(client: Client, project: str) -> None:
    flow = _flow(CronSchedule("0 6 * * *"))
    flow_id = flow.register(project_name=project, set_schedule_active=False)
    group = client.get_flow(flow_id)["flow_group_id"]
    assert _auto(client, group) == []
    info = client.get_flow_group_schedule(group)
    assert info["is_schedule_active"] is False
    assert info["source"] == "flow" and info["schedule"]["type"] == "Schedule"
    assert [t[11:16] for t in info["next_times"]] == ["06:00"] * 10

    on = client.set_schedule_active(flow_id)
    assert on["is_schedule_active"] is True
    runs = _auto(client, group)
    assert len(runs) == 10
    assert all(r["parameters"] == {"who": "world"} for r in runs)
    upcoming = client.query_flow_runs(flow_group_id=group, upcoming=True)
    times = [r["scheduled_start_time"] for r in upcoming]
    assert times == sorted(times) and len(times) == 10

    off = client.set_schedule_inactive(flow_id)
    assert off["is_schedule_active"] is False
    assert _auto(client, group) == []


def test_a_required_parameter_without_value_is_a_readable_client_error(
    client: Client, project: str
) -> None:
    flow = _flow(IntervalSchedule(interval=dt.timedelta(hours=1)), required=True)
    with pytest.raises(ClientError, match="required parameter\\(s\\) 'who' have no default"):
        client.register(flow, project_name=project)
    assert client.query_flows(name=flow.name) == []
    flow_id = client.register(flow, project_name=project, set_schedule_active=False)
    with pytest.raises(ClientError, match="cannot be switched on"):
        client.set_schedule_active(flow_id)
    # A clock that supplies the value makes the schedule runnable.
    group = client.get_flow(flow_id)["flow_group_id"]
    supplied = Schedule(
        clocks=[clocks.IntervalClock(dt.timedelta(hours=1), parameter_defaults={"who": "team"})]
    )
    client.set_flow_group_schedule(group, supplied)
    info = client.update_flow_group_schedule(group, is_schedule_active=True)
    assert info["source"] == "flow_group"
    assert {r["parameters"]["who"] for r in _auto(client, group)} == {"team"}


def test_group_schedule_late_runs_and_backfill(client: Client, project: str) -> None:
    flow_id = client.register(_flow(CronSchedule("0 6 * * *")), project_name=project)
    group = client.get_flow(flow_id)["flow_group_id"]
    hourly = IntervalSchedule(
        start_date=dt.datetime(2020, 1, 1, tzinfo=UTC), interval=dt.timedelta(hours=1)
    )
    info = client.set_flow_group_schedule(group, hourly)
    assert info["source"] == "flow_group"
    assert {r["scheduled_start_time"][14:16] for r in _auto(client, group)} == {"00"}
    back = client.delete_flow_group_schedule(group)
    assert back["source"] == "flow" and back["flow_group_schedule"] is None

    late = client.update_flow_group_schedule(group, late_runs="skip", late_runs_max_age=600)
    assert (late["late_runs"], late["late_runs_max_age"]) == ("skip", 600)
    with pytest.raises(TypeError, match="unknown field"):
        client.update_flow_group_schedule(group, colour="red")

    start = dt.datetime(2024, 5, 1)
    made = client.backfill_flow_group(group, start, start + dt.timedelta(days=2, hours=7))
    assert [r["scheduled_start_time"][:13] for r in made["created"]] == [
        "2024-05-01T06",
        "2024-05-02T06",
        "2024-05-03T06",
    ]
    again = client.backfill_flow_group(group, start, start + dt.timedelta(days=2, hours=7))
    assert again == {"created": [], "existing": 3}
    with pytest.raises(ObjectNotFound):
        client.get_flow_group_schedule(str(uuid.uuid4()))
    with pytest.raises(TypeError, match="Schedule"):
        client.set_flow_group_schedule(group, "0 6 * * *")
