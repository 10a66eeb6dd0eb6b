"""The server's scheduler end to end: real server and agent processes, real schedules.

Every server here runs its scheduler every half second, so that top-ups happen within a
test; the runs themselves come from the registration and from the service. Each test
runs on SQLite and on a fresh PostgreSQL database; the two-server test needs
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import runpy
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import postgres_available, temporary_postgres_database, temporary_server
from headwater.testing_agent import temporary_agent
from support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

FLOWS = Path(__file__).parent / "flows"
SCHEDULER = {"HEADWATER_SERVER_SCHEDULER_INTERVAL": "0.5"}
UTC = dt.UTC


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the server's own SQLite file) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url:
        yield url


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _client(api_url: str) -> Any:
    from headwater.client import Client

    return Client(api_server=api_url)


def _executable() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    return found


def _hw(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HEADWATER_API_URL=api_url)
    env.pop("HEADWATER_API_KEY", None)
    result = subprocess.run(
        [_executable(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def _register(client: Any, file_name: str, **kwargs: Any) -> str:
    from headwater.storage import Local

    script = FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="e2e", **kwargs))


def _auto_runs(client: Any, flow_name: str) -> list[dict[str, Any]]:
    runs = client.query_flow_runs(flow_name=flow_name, auto_scheduled=True, limit=10_000)
    return sorted(runs, key=lambda r: (r["scheduled_start_time"], r["id"]))


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(condition, timeout=timeout, interval=0.2, what=what)


def _one_run_per_slot(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> None:
    counts = Counter(key(r) for r in runs)
    doubles = {k: n for k, n in counts.items() if n > 1}
    assert not doubles, f"slots with more than one run: {doubles}"


def test_an_interval_schedule_runs_each_time_once(database_url: str | None) -> None:
    with temporary_server(database_url=database_url, env=SCHEDULER) as server:
        client = _client(server.api_url)
        client.create_project("e2e")
        registered = _hw(
            server.api_url, "register", "--project", "e2e", "--path", str(FLOWS / "scheduled.py")
        )
        assert "registered, version 1" in registered.stdout
        upcoming = _hw(
            server.api_url, "get", "flow-runs", "--upcoming", "--name", "e2e-scheduled", "--json"
        )
        listed = [r["scheduled_start_time"] for r in json.loads(upcoming.stdout)]
        assert listed and listed == sorted(listed)
        with temporary_agent(server.api_url):

            def finished() -> list[dict[str, Any]]:
                return [
                    r
                    for r in _auto_runs(client, "e2e-scheduled")
                    if r["state_type"] in ("Success", "Failed")
                ]

            _wait(lambda: len(finished()) >= 4, 150, "four scheduled runs to finish")
            off = _hw(server.api_url, "flow", "schedule", "off", "e2e-scheduled")
            assert "schedule off" in off.stdout
            done = finished()
        runs = _auto_runs(client, "e2e-scheduled")
    assert {r["state_type"] for r in done} == {"Success"}, [r["state_message"] for r in done]
    for run in done:
        scheduled = _when(run["scheduled_start_time"])
        # Interval clocks without a start date count from 2019-01-01, in 4-second steps.
        assert scheduled.timestamp() % 4 == 0
        assert _when(run["start_time"]) >= scheduled
    # Two clocks, two regions: one run per time and region, never two.
    _one_run_per_slot(runs, lambda r: (r["scheduled_start_time"], r["parameters"]["region"]))
    per_time = Counter(r["scheduled_start_time"] for r in done)
    assert max(per_time.values()) <= 2
    assert any(n == 2 for n in per_time.values())
    # Switched off: nothing waits in the future any more.
    now = dt.datetime.now(UTC)
    future = [
        r for r in runs if r["state_type"] == "Scheduled" and _when(r["scheduled_start_time"]) > now
    ]
    assert future == []


def test_re_registering_twice_quickly_leaves_one_run_per_time(database_url: str | None) -> None:
    with temporary_server(database_url=database_url, env=SCHEDULER) as server:
        client = _client(server.api_url)
        client.create_project("e2e")
        first = _register(client, "ticking.py")
        ids: list[str] = []
        errors: list[BaseException] = []

        def again() -> None:
            try:
                ids.append(_register(_client(server.api_url), "ticking.py"))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=again) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        registered_at = dt.datetime.now(UTC)
        newest = client.query_flows(name="e2e-ticking", archived=False)
        assert len(newest) == 1 and newest[0]["version"] == 3
        assert set(ids) | {first} == {f["id"] for f in client.query_flows(name="e2e-ticking")}
        # Let the scheduler pass a few times too, then look.
        settled = dt.datetime.now(UTC) + dt.timedelta(seconds=2)
        _wait(lambda: dt.datetime.now(UTC) > settled, 30, "a few scheduler passes")
        runs = _auto_runs(client, "e2e-ticking")
    _one_run_per_slot(runs, lambda r: r["scheduled_start_time"])
    assert len(runs) >= 100 - 2
    # Runs still ahead when the last version came are re-pointed at it; runs that fell
    # due before (no agent here) stay with the version they were made for.
    ahead = [r for r in runs if _when(r["scheduled_start_time"]) > registered_at]
    assert {r["flow_id"] for r in ahead} == {newest[0]["id"]}


def test_a_server_restart_creates_no_duplicates_and_misses_no_slot(
    database_url: str | None,
) -> None:
    with temporary_server(database_url=database_url, env=SCHEDULER) as server:
        client = _client(server.api_url)
        client.create_project("e2e")
        _register(client, "ticking.py")
        with temporary_agent(server.api_url):

            def succeeded() -> list[dict[str, Any]]:
                return [
                    r for r in _auto_runs(client, "e2e-ticking") if r["state_type"] == "Success"
                ]

            _wait(lambda: len(succeeded()) >= 2, 120, "two runs before the restart")
            server.stop()
            down_at = dt.datetime.now(UTC)
            # Stay down for a few slots of the two-second schedule.
            _wait(
                lambda: dt.datetime.now(UTC) > down_at + dt.timedelta(seconds=5),
                30,
                "the downtime",
            )
            server.start()
            up_at = dt.datetime.now(UTC)
            _wait(
                lambda: any(
                    _when(r["scheduled_start_time"]) > up_at + dt.timedelta(seconds=4)
                    for r in succeeded()
                ),
                150,
                "runs after the restart",
            )
            client.set_schedule_inactive(client.query_flows(name="e2e-ticking")[0]["id"])
        runs = _auto_runs(client, "e2e-ticking")
    _one_run_per_slot(runs, lambda r: r["scheduled_start_time"])
    ran = [r for r in runs if r["state_type"] not in ("Scheduled",)]
    times = sorted(_when(r["scheduled_start_time"]) for r in ran)
    # Every two-second slot from the first run to the last one that ran has a run:
    # the slots that fell due while the server was down were created ahead and ran late.
    expected = int((times[-1] - times[0]).total_seconds() // 2) + 1
    assert len(times) == expected, [t.isoformat() for t in times]
    assert any(down_at < t < up_at for t in times)
    by_time = {_when(r["scheduled_start_time"]): r for r in ran}
    late = [r for t, r in by_time.items() if down_at < t < up_at]
    assert all(r["state_type"] == "Success" for r in late), [r["state_type"] for r in late]


def test_two_server_processes_on_one_postgres_create_each_slot_once() -> None:
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    fast = {"HEADWATER_SERVER_SCHEDULER_INTERVAL": "0.2"}
    with (
        temporary_postgres_database() as url,
        temporary_server(database_url=url, env=fast) as one,
        temporary_server(database_url=url, env=fast) as two,
    ):
        a, b = _client(one.api_url), _client(two.api_url)
        a.create_project("e2e")
        flow_id = _register(a, "ticking.py")
        group = a.get_flow(flow_id)["flow_group_id"]
        for round_ in range(3):
            runs = _auto_runs(b, "e2e-ticking")
            # Take away the newest half: both schedulers race to put them back.
            for run in runs[len(runs) // 2 :]:
                a.delete_flow_run(run["id"])
            _wait(
                lambda: len(_auto_runs(a, "e2e-ticking")) >= 99,
                60,
                f"the schedulers to refill (round {round_})",
            )
            _one_run_per_slot(_auto_runs(b, "e2e-ticking"), lambda r: r["scheduled_start_time"])
        # Slots keep coming due; both keep topping up, still once each.
        start = dt.datetime.now(UTC)
        _wait(lambda: dt.datetime.now(UTC) > start + dt.timedelta(seconds=5), 30, "a few slots")
        runs = _auto_runs(a, "e2e-ticking")
        b.set_schedule_inactive(flow_id)
        assert b.get_flow_group_schedule(group)["is_schedule_active"] is False
    _one_run_per_slot(runs, lambda r: r["scheduled_start_time"])
    times = sorted(_when(r["scheduled_start_time"]) for r in runs)
    assert all(
        (later - earlier) == dt.timedelta(seconds=2) for earlier, later in itertools.pairwise(times)
    ), "a slot is missing"
