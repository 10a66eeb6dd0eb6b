"""Server-side scheduling through the API, on SQLite and PostgreSQL.

Registering a flow with a schedule creates its runs ahead in the same request; the runs
are keyed by flow group and scheduled time, so re-registering, switching and the
scheduler service's passes never make a second run for one time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from headwater.schedules import CronSchedule, IntervalSchedule, Schedule, clocks
from headwater.server.database import orm
from headwater.server.models import schedules
from headwater.server.services.scheduler import Scheduler

UTC = dt.UTC


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def every(seconds: float, **clock: Any) -> dict[str, Any]:
    start = clock.pop("start_date", dt.datetime(2020, 1, 1, tzinfo=UTC))
    return Schedule(
        clocks=[clocks.IntervalClock(dt.timedelta(seconds=seconds), start_date=start, **clock)]
    ).to_ref()


async def register(
    api: Any,
    schedule: dict[str, Any] | None,
    *,
    name: str = "scheduled",
    project: str = "p",
    parameters: list[dict[str, Any]] | None = None,
    expect: int = 201,
    **extra: Any,
) -> dict[str, Any]:
    if not await api.call("GET", "/projects", params={"name": project}):
        await api.project(project)
    body = {
        "name": name,
        "project_name": project,
        "serialized_flow": {
            "parameters": parameters or [],
            "tasks": [{"slug": "a-1", "name": "a"}],
            "schedule": schedule,
        },
        **extra,
    }
    result: dict[str, Any] = await api.call("POST", "/flows", expect, json=body)
    return result


async def runs_of(api: Any, group: str, **params: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await api.call(
        "GET", "/flow-runs", params={"flow_group_id": group, "limit": 10_000, **params}
    )
    return result


async def _project(api: Any, name: str = "p") -> None:
    await api.call("POST", "/projects", 201, json={"name": name})


async def test_registering_a_scheduled_flow_creates_its_runs_ahead(api: Any, app: Any) -> None:
    await _project(api)
    before = _now()
    flow = await register(
        api,
        every(60, parameter_defaults={"x": 1}, labels=["eu"]),
        parameters=[{"name": "x", "required": False, "default": 0}],
    )
    runs = await runs_of(api, flow["flow_group_id"])
    # One hour of minutes is more than ten runs: 60 runs (allowing for the minute turning).
    assert 60 <= len(runs) <= 61
    times = sorted(dt.datetime.fromisoformat(r["scheduled_start_time"]) for r in runs)
    assert all(t > before for t in times)
    assert all(t.second == 0 and t.microsecond == 0 for t in times)
    assert len(set(times)) == len(times)
    assert times[-1] - times[0] <= dt.timedelta(hours=1)
    assert {r["flow_id"] for r in runs} == {flow["id"]}
    assert all(r["auto_scheduled"] for r in runs)
    assert all(r["parameters"] == {"x": 1} and r["labels"] == ["eu"] for r in runs)
    assert all(r["idempotency_key"].startswith("auto-scheduled:") for r in runs)
    assert {r["state_type"] for r in runs} == {"Scheduled"}
    async with app.state.db.read_session() as session:
        task_runs = (
            await session.execute(
                select(func.count())
                .select_from(orm.TaskRun)
                .join(orm.FlowRun, orm.FlowRun.id == orm.TaskRun.flow_run_id)
                .where(orm.FlowRun.flow_group_id == flow["flow_group_id"])
            )
        ).scalar_one()
    assert task_runs == len(runs)


async def test_runs_ahead_are_at_least_ten_and_at_most_a_hundred(api: Any) -> None:
    await _project(api)
    fast = await register(api, every(3), name="fast")
    daily = await register(api, CronSchedule("0 6 * * *").to_ref(), name="daily")
    assert len(await runs_of(api, fast["flow_group_id"])) == schedules.MAX_RUNS_AHEAD
    assert len(await runs_of(api, daily["flow_group_id"])) == schedules.MIN_RUNS_AHEAD


async def test_two_clocks_with_different_parameters_make_two_runs_per_time(api: Any) -> None:
    await _project(api)
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    schedule = Schedule(
        clocks=[
            clocks.IntervalClock(
                dt.timedelta(hours=1), start_date=start, parameter_defaults={"region": "eu"}
            ),
            clocks.IntervalClock(
                dt.timedelta(hours=1), start_date=start, parameter_defaults={"region": "us"}
            ),
        ]
    ).to_ref()
    flow = await register(
        api, schedule, parameters=[{"name": "region", "required": True, "default": None}]
    )
    runs = await runs_of(api, flow["flow_group_id"])
    # Ten runs ahead (the minimum counts runs, not times): five times, two runs each.
    per_time = Counter(r["scheduled_start_time"] for r in runs)
    assert len(runs) == schedules.MIN_RUNS_AHEAD
    assert len(per_time) == 5 and set(per_time.values()) == {2}
    regions = Counter(r["parameters"]["region"] for r in runs)
    assert regions == {"eu": 5, "us": 5}
    assert len({r["idempotency_key"] for r in runs}) == 10


async def test_re_registering_re_points_future_runs_and_keeps_every_other_run(
    api: Any,
) -> None:
    await _project(api)
    first = await register(api, every(3600))
    group = first["flow_group_id"]
    runs = sorted(await runs_of(api, group), key=lambda r: r["scheduled_start_time"])
    # A run an agent took, a run the user cancelled, and an ad-hoc run.
    await api.set_state(runs[0]["id"], "Submitted")
    await api.set_state(runs[1]["id"], "Cancelled")
    adhoc = await api.run(flow_group_id=group)
    second = await register(api, every(3600))
    assert second["id"] != first["id"]
    after = await runs_of(api, group)
    by_id = {r["id"]: r for r in after}
    assert by_id[runs[0]["id"]]["state_type"] == "Submitted"
    assert by_id[runs[1]["id"]]["state_type"] == "Cancelled"
    assert by_id[adhoc["id"]]["flow_id"] == first["id"]
    auto = [r for r in after if r["auto_scheduled"]]
    # Each time has exactly one scheduled run: the cancelled one keeps its slot.
    per_time = Counter(r["scheduled_start_time"] for r in auto)
    assert set(per_time.values()) == {1}
    pending = [r for r in auto if r["state_type"] == "Scheduled"]
    assert pending and {r["flow_id"] for r in pending} == {second["id"]}
    assert len(auto) == schedules.MIN_RUNS_AHEAD


async def test_concurrent_re_registrations_leave_one_run_per_time(api: Any) -> None:
    await _project(api)
    flow = await register(api, every(60))
    await asyncio.gather(*(register(api, every(60)) for _ in range(4)))
    runs = await runs_of(api, flow["flow_group_id"])
    per_time = Counter(r["scheduled_start_time"] for r in runs)
    assert set(per_time.values()) == {1}
    newest = (await api.call("GET", "/flows", params={"flow_group_id": flow["flow_group_id"]}))[0]
    assert {r["flow_id"] for r in runs} == {newest["id"]}


async def test_switching_off_and_on(api: Any) -> None:
    await _project(api)
    flow = await register(api, every(600), set_schedule_active=False)
    group = flow["flow_group_id"]
    assert await runs_of(api, group) == []
    info = await api.call("GET", f"/flow-groups/{group}/schedule")
    assert info["is_schedule_active"] is False and info["source"] == "flow"
    assert len(info["next_times"]) == 10
    adhoc = await api.run(flow_group_id=group)
    on = await api.call(
        "PATCH", f"/flow-groups/{group}/schedule", json={"is_schedule_active": True}
    )
    assert on["is_schedule_active"] is True
    assert len(await runs_of(api, group, auto_scheduled=True)) == 10
    off = await api.call("POST", f"/flows/{flow['id']}/set-schedule-inactive")
    assert off["is_schedule_active"] is False
    left = await runs_of(api, group)
    assert [r["id"] for r in left] == [adhoc["id"]]
    await api.call("POST", f"/flows/{flow['id']}/set-schedule-active")
    assert len(await runs_of(api, group, auto_scheduled=True)) == 10
    group_row = await api.call("GET", f"/flow-groups/{group}")
    assert group_row["is_schedule_active"] is True


async def test_required_parameter_without_value_refuses_switching_on(api: Any) -> None:
    await _project(api)
    params = [{"name": "when", "required": True, "default": None}]
    refused = await register(api, every(600), parameters=params, expect=422)
    assert "required parameter(s) 'when'" in refused["detail"]
    assert "set_schedule_active=False" in refused["detail"]
    assert await api.call("GET", "/flows") == []
    flow = await register(api, every(600), parameters=params, set_schedule_active=False)
    group = flow["flow_group_id"]
    detail = (
        await api.call(
            "PATCH", f"/flow-groups/{group}/schedule", 422, json={"is_schedule_active": True}
        )
    )["detail"]
    assert "cannot be switched on" in detail and "'when'" in detail
    assert (await api.call("GET", f"/flow-groups/{group}/schedule"))["is_schedule_active"] is False
    # A group default fills it.
    await api.call("PATCH", f"/flow-groups/{group}", json={"default_parameters": {"when": "now"}})
    await api.call("PATCH", f"/flow-groups/{group}/schedule", json={"is_schedule_active": True})
    assert len(await runs_of(api, group)) == 10


async def test_a_clock_naming_an_unknown_parameter_is_refused(api: Any) -> None:
    await _project(api)
    detail = (await register(api, every(600, parameter_defaults={"nope": 1}), expect=422))["detail"]
    assert "'nope'" in detail and "does not declare" in detail


async def test_an_invalid_schedule_is_refused(api: Any) -> None:
    await _project(api)
    detail = (await register(api, {"type": "Schedule", "clocks": "x"}, expect=422))["detail"]
    assert detail.startswith("Invalid schedule")
    flow = await register(api, None)
    bad = await api.call(
        "PUT",
        f"/flow-groups/{flow['flow_group_id']}/schedule",
        422,
        json={"schedule": {"clocks": [{"type": "NoSuchClock"}]}},
    )
    assert bad["detail"].startswith("Invalid schedule")


async def test_the_group_schedule_wins_over_the_versions(api: Any) -> None:
    await _project(api)
    flow = await register(api, CronSchedule("0 6 * * *").to_ref())
    group = flow["flow_group_id"]
    info = await api.call("PUT", f"/flow-groups/{group}/schedule", json={"schedule": every(3600)})
    assert info["source"] == "flow_group"
    runs = await runs_of(api, group)
    assert len(runs) == 10
    minutes = {dt.datetime.fromisoformat(r["scheduled_start_time"]).minute for r in runs}
    assert minutes == {0}
    gaps = sorted(dt.datetime.fromisoformat(r["scheduled_start_time"]) for r in runs)
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(gaps))
    # A new version keeps following the group's schedule.
    await register(api, CronSchedule("0 6 * * *").to_ref())
    assert (await api.call("GET", f"/flow-groups/{group}/schedule"))["source"] == "flow_group"
    back = await api.call("DELETE", f"/flow-groups/{group}/schedule")
    assert back["source"] == "flow"
    daily = await runs_of(api, group, auto_scheduled=True)
    assert {dt.datetime.fromisoformat(r["scheduled_start_time"]).hour for r in daily} == {6}


async def test_archiving_the_newest_version_removes_its_future_runs(api: Any) -> None:
    await _project(api)
    flow = await register(api, every(600))
    group = flow["flow_group_id"]
    adhoc = await api.run(flow_group_id=group)
    await api.call("POST", f"/flows/{flow['id']}/archive")
    assert [r["id"] for r in await runs_of(api, group)] == [adhoc["id"]]


async def test_upcoming_runs_are_listed_soonest_first(api: Any) -> None:
    await _project(api)
    flow = await register(api, every(600))
    later = _now() + dt.timedelta(days=3)
    adhoc = await api.run(
        flow_group_id=flow["flow_group_id"], scheduled_start_time=later.isoformat()
    )
    await api.run(flow_group_id=flow["flow_group_id"])  # due now: not upcoming
    upcoming = await api.call("GET", "/flow-runs", params={"upcoming": True, "limit": 100})
    times = [r["scheduled_start_time"] for r in upcoming]
    assert times == sorted(times)
    assert upcoming[-1]["id"] == adhoc["id"]
    assert len(upcoming) == 11
    only_auto = await api.call(
        "GET", "/flow-runs", params={"upcoming": True, "auto_scheduled": True}
    )
    assert len(only_auto) == 10


async def test_backfill_creates_past_runs_once(api: Any) -> None:
    await _project(api)
    flow = await register(api, CronSchedule("0 6 * * *").to_ref())
    group = flow["flow_group_id"]
    body = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-05T23:00:00Z"}
    # The dates lie ahead of "now" in this test only to be independent of today's date.
    first = await api.call("POST", f"/flow-groups/{group}/schedule/backfill", json=body)
    assert len(first["created"]) == 5 and first["existing"] == 0
    assert {r["scheduled_start_time"][:10] for r in first["created"]} == {
        f"2030-01-0{d}" for d in range(1, 6)
    }
    again = await api.call("POST", f"/flow-groups/{group}/schedule/backfill", json=body)
    assert again == {"created": [], "existing": 5}
    past = {"start": "2021-03-01T00:00:00Z", "end": "2021-03-03T12:00:00Z"}
    old = await api.call("POST", f"/flow-groups/{group}/schedule/backfill", json=past)
    assert len(old["created"]) == 3
    assert all(r["auto_scheduled"] for r in old["created"])
    wrong = await api.call(
        "POST",
        f"/flow-groups/{group}/schedule/backfill",
        422,
        json={"start": body["end"], "end": body["start"]},
    )
    assert "end must not be before" in wrong["detail"]
    too_many = await api.call(
        "POST",
        f"/flow-groups/{group}/schedule/backfill",
        422,
        json={"start": "2000-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
    )
    assert "more than 1000" in too_many["detail"]
    plain = await register(api, None, name="plain")
    none = await api.call(
        "POST", f"/flow-groups/{plain['flow_group_id']}/schedule/backfill", 422, json=body
    )
    assert "has no schedule" in none["detail"]


async def test_late_run_policies(api: Any, app: Any) -> None:
    await _project(api)
    latest = await register(api, every(3600), name="latest", set_schedule_active=False)
    skip = await register(api, every(3600), name="skip", set_schedule_active=False)
    keep = await register(api, every(3600), name="keep", set_schedule_active=False)
    now = _now().replace(minute=0, second=0, microsecond=0)
    window = {
        "start": (now - dt.timedelta(hours=5)).isoformat(),
        "end": (now - dt.timedelta(hours=1)).isoformat(),
    }
    slots: list[dt.datetime] = []
    for flow in (latest, skip, keep):
        made = await api.call(
            "POST", f"/flow-groups/{flow['flow_group_id']}/schedule/backfill", json=window
        )
        assert len(made["created"]) == 5
        slots = sorted(
            dt.datetime.fromisoformat(r["scheduled_start_time"]) for r in made["created"]
        )
    # Half an hour less late than the third-oldest slot: the three oldest are skipped, the
    # two newest are not, whatever the minute the test runs at.
    max_age = (_now() - slots[2]).total_seconds() - 1800
    await api.call(
        "PATCH", f"/flow-groups/{latest['flow_group_id']}/schedule", json={"late_runs": "latest"}
    )
    refused = await api.call(
        "PATCH", f"/flow-groups/{skip['flow_group_id']}/schedule", 422, json={"late_runs": "skip"}
    )
    assert "late_runs_max_age" in refused["detail"]
    await api.call(
        "PATCH",
        f"/flow-groups/{skip['flow_group_id']}/schedule",
        json={"late_runs": "skip", "late_runs_max_age": max_age},
    )
    scheduler = Scheduler(app.state.db, interval=30)
    await scheduler.run_once()
    assert scheduler.skipped_late == 4 + 3

    def states(runs: list[dict[str, Any]]) -> list[str]:
        return [r["state_type"] for r in sorted(runs, key=lambda r: r["scheduled_start_time"])]

    assert states(await runs_of(api, latest["flow_group_id"])) == ["Cancelled"] * 4 + ["Scheduled"]
    assert (
        states(await runs_of(api, skip["flow_group_id"])) == ["Cancelled"] * 3 + ["Scheduled"] * 2
    )
    assert states(await runs_of(api, keep["flow_group_id"])) == ["Scheduled"] * 5
    cancelled = [
        r for r in await runs_of(api, latest["flow_group_id"]) if r["state_type"] == "Cancelled"
    ]
    assert "late-run policy 'latest'" in cancelled[0]["state_message"]
    # The service never back-fills: nothing was created for the past, nothing for the
    # switched-off groups.
    assert scheduler.created == 0


async def test_scheduler_pass_tops_up_and_an_idle_pass_does_nothing(api: Any, app: Any) -> None:
    await _project(api)
    flow = await register(api, every(600))
    group = flow["flow_group_id"]
    runs = sorted(await runs_of(api, group), key=lambda r: r["scheduled_start_time"])
    # The newest five runs disappear (deleted by hand); one pass restores exactly those.
    for run in runs[-5:]:
        await api.call("DELETE", f"/flow-runs/{run['id']}", 204)
    scheduler = Scheduler(app.state.db, interval=30)
    await scheduler.run_once()
    assert scheduler.created == 5
    again = await runs_of(api, group)
    assert sorted(r["scheduled_start_time"] for r in again) == sorted(
        r["scheduled_start_time"] for r in runs
    )
    async with app.state.db.read_session() as session:
        assert await schedules.groups_needing_runs(session, _now()) == []
    await scheduler.run_once()
    assert scheduler.created == 5


async def test_two_schedulers_at_once_create_each_slot_once(api: Any, app: Any) -> None:
    await _project(api)
    flows = [
        await register(api, every(60 * (i + 1)), name=f"f{i}", set_schedule_active=False)
        for i in range(5)
    ]
    # Switch the groups on directly in the database, so that only the schedulers create.
    async with app.state.db.session() as session:
        for flow in flows:
            group = await session.get(orm.FlowGroup, flow["flow_group_id"])
            assert group is not None
            group.is_schedule_active = True
        await session.commit()
    from headwater.server.database import Database

    other = Database(str(app.state.db.url))
    try:
        first, second = Scheduler(app.state.db, interval=30), Scheduler(other, interval=30)
        await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await other.dispose()
    for flow in flows:
        runs = await runs_of(api, flow["flow_group_id"])
        per_time = Counter(r["scheduled_start_time"] for r in runs)
        assert per_time and set(per_time.values()) == {1}
    assert first.created + second.created == sum(
        [len(await runs_of(api, f["flow_group_id"])) for f in flows]
    )


async def test_schedule_settings_are_validated(api: Any) -> None:
    await _project(api)
    flow = await register(api, every(600))
    group = flow["flow_group_id"]
    bad = await api.call(
        "PATCH", f"/flow-groups/{group}/schedule", 422, json={"late_runs": "sometimes"}
    )
    assert "late_runs" in str(bad)
    await api.call("PATCH", f"/flow-groups/{group}/schedule", 422, json={"late_runs_max_age": -1})
    await api.call("GET", "/flow-groups/nope/schedule", 404)
    await api.call("POST", "/flows/nope/set-schedule-active", 404)


async def test_a_flow_without_schedule_gets_no_runs(api: Any) -> None:
    await _project(api)
    flow = await register(api, None)
    assert await runs_of(api, flow["flow_group_id"]) == []
    info = await api.call("GET", f"/flow-groups/{flow['flow_group_id']}/schedule")
    assert info["source"] is None and info["schedule"] is None and info["next_times"] == []


async def test_interval_schedule_in_a_time_zone_is_stored_in_utc(api: Any) -> None:
    from zoneinfo import ZoneInfo

    await _project(api)
    start = dt.datetime(2020, 1, 1, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    flow = await register(
        api, IntervalSchedule(start_date=start, interval=dt.timedelta(days=1)).to_ref()
    )
    runs = await runs_of(api, flow["flow_group_id"])
    assert len(runs) == 10
    for run in runs:
        when = dt.datetime.fromisoformat(run["scheduled_start_time"])
        assert when.utcoffset() == dt.timedelta(0)
        assert (when.hour, when.minute) == (3, 30)


async def test_scheduling_off_creates_no_runs(database_url: str, tmp_path: Any) -> None:
    import httpx
    from _core_support import Api

    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    settings = ServerSettings(
        home=tmp_path, database_url=database_url, start_services=False, scheduler_interval=0
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # The PostgreSQL database is shared with other tests: a project of its own.
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/") as c:
            api = Api(c)
            project = f"off-{uuid.uuid4().hex[:8]}"
            await _project(api, project)
            flow = await register(api, every(600), project=project)
            group = flow["flow_group_id"]
            assert await runs_of(api, group) == []
            info = await api.call(
                "PATCH", f"/flow-groups/{group}/schedule", json={"is_schedule_active": True}
            )
            assert info["is_schedule_active"] is True and len(info["next_times"]) == 10
            assert await runs_of(api, group) == []
            # A backfill is an explicit request and still works.
            made = await api.call(
                "POST",
                f"/flow-groups/{group}/schedule/backfill",
                json={"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:30:00Z"},
            )
            assert len(made["created"]) == 4
    from headwater.server.services import create_services

    application.state.settings = settings.replace(start_services=True)
    names = [s.name for s in create_services(application)]
    assert "scheduler" not in names and "reaper" in names
