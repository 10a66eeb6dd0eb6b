"""The server's run-time computation: runs ahead, keys, and daylight-saving changes.

Times are computed in the clock's zone and handed over in UTC; a scheduled run's key is
its UTC time (plus a digest of the clock's values), so a local time that happens twice
gives two keys and a local time that does not exist gives one run.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from headwater.schedules import CronSchedule, IntervalSchedule, Schedule, clocks
from headwater.server.models.errors import InvalidInput
from headwater.server.models.schedules import (
    MAX_RUNS_AHEAD,
    MIN_RUNS_AHEAD,
    events_between,
    parse_schedule,
    run_key,
    upcoming_events,
)

UTC = dt.UTC
NY = ZoneInfo("America/New_York")
# 2030: clocks go forward on 10 March (02:00 -> 03:00) and back on 3 November
# (02:00 -> 01:00) in New York.
SPRING = dt.datetime(2030, 3, 10, 4, 0, tzinfo=UTC)  # 23:00 local the evening before
FALL = dt.datetime(2030, 11, 3, 3, 0, tzinfo=UTC)  # 23:00 local the evening before


def _utc(events: list[object]) -> list[dt.datetime]:
    return [e.start_time for e in events]  # type: ignore[attr-defined]


def test_at_least_ten_runs_for_a_slow_schedule() -> None:
    now = dt.datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC)
    events = upcoming_events(CronSchedule("0 6 * * *"), now)
    assert len(events) == MIN_RUNS_AHEAD
    assert _utc(events)[0] == dt.datetime(2030, 1, 2, 6, tzinfo=UTC)


def test_an_hour_ahead_for_a_fast_schedule() -> None:
    now = dt.datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    events = upcoming_events(IntervalSchedule(interval=dt.timedelta(minutes=1)), now)
    times = _utc(events)
    assert times[0] == dt.datetime(2030, 1, 1, 12, 1, tzinfo=UTC)
    assert times[-1] == dt.datetime(2030, 1, 1, 13, 0, tzinfo=UTC)
    assert len(times) == 60


def test_never_more_than_a_hundred_runs() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=UTC)
    events = upcoming_events(IntervalSchedule(interval=dt.timedelta(seconds=2)), now)
    assert len(events) == MAX_RUNS_AHEAD
    assert all(t > now for t in _utc(events))


def test_an_ending_schedule_gives_what_it_has() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=UTC)
    schedule = IntervalSchedule(
        start_date=now, interval=dt.timedelta(hours=1), end_date=now + dt.timedelta(hours=3)
    )
    assert len(upcoming_events(schedule, now)) == 3


def test_keys_name_the_utc_time_and_the_clock_values() -> None:
    when = dt.datetime(2030, 1, 1, 6, tzinfo=ZoneInfo("Europe/Paris"))
    plain = clocks.ClockEvent(when)
    assert run_key(plain) == "auto-scheduled:2030-01-01T05:00:00+00:00"
    assert run_key(clocks.ClockEvent(when.astimezone(UTC))) == run_key(plain)
    eu = run_key(clocks.ClockEvent(when, {"region": "eu"}))
    us = run_key(clocks.ClockEvent(when, {"region": "us"}))
    labelled = run_key(clocks.ClockEvent(when, None, ["b", "a"]))
    assert len({run_key(plain), eu, us, labelled}) == 4
    assert eu.startswith(run_key(plain) + ":")
    assert labelled == run_key(clocks.ClockEvent(when, None, ["a", "b"]))
    assert len(eu) <= 255


def _local(times: list[dt.datetime]) -> list[str]:
    return [t.astimezone(NY).strftime("%m-%d %H:%M %Z") for t in times]


def test_cron_spring_forward_gap_gives_one_run() -> None:
    schedule = CronSchedule("30 2 * * *", start_date=dt.datetime(2030, 1, 1, tzinfo=NY))
    times = _utc(upcoming_events(schedule, SPRING - dt.timedelta(days=1)))[:3]
    # 02:30 does not exist on 10 March: that day's run is at 03:00 EDT, once.
    assert _local(times) == ["03-09 02:30 EST", "03-10 03:00 EDT", "03-11 02:30 EDT"]
    assert len({run_key(clocks.ClockEvent(t)) for t in times}) == 3


def test_cron_fall_back_repeat_fires_once() -> None:
    schedule = CronSchedule("30 1 * * *", start_date=dt.datetime(2030, 1, 1, tzinfo=NY))
    times = _utc(upcoming_events(schedule, FALL))[:2]
    assert _local(times) == ["11-03 01:30 EDT", "11-04 01:30 EST"]
    hourly = CronSchedule("0 * * * *", start_date=dt.datetime(2030, 1, 1, tzinfo=NY))
    night = _utc(upcoming_events(hourly, FALL))[:5]
    assert _local(night) == [
        "11-03 00:00 EDT",
        "11-03 01:00 EDT",
        "11-03 02:00 EST",
        "11-03 03:00 EST",
        "11-03 04:00 EST",
    ]
    assert len(set(night)) == 5


def test_interval_spring_forward_counts_elapsed_hours() -> None:
    schedule = IntervalSchedule(
        start_date=dt.datetime(2030, 1, 1, tzinfo=NY), interval=dt.timedelta(hours=1)
    )
    times = _utc(upcoming_events(schedule, SPRING))[:5]
    assert _local(times) == [
        "03-10 00:00 EST",
        "03-10 01:00 EST",
        "03-10 03:00 EDT",
        "03-10 04:00 EDT",
        "03-10 05:00 EDT",
    ]
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(times))


def test_interval_fall_back_repeat_gives_two_runs() -> None:
    schedule = IntervalSchedule(
        start_date=dt.datetime(2030, 1, 1, tzinfo=NY), interval=dt.timedelta(hours=1)
    )
    times = _utc(upcoming_events(schedule, FALL))[:4]
    assert _local(times) == [
        "11-03 00:00 EDT",
        "11-03 01:00 EDT",
        "11-03 01:00 EST",
        "11-03 02:00 EST",
    ]
    keys = {run_key(clocks.ClockEvent(t)) for t in times}
    assert len(keys) == 4


def test_daily_interval_keeps_its_local_hour_across_both_changes() -> None:
    schedule = IntervalSchedule(
        start_date=dt.datetime(2030, 1, 1, 9, tzinfo=NY), interval=dt.timedelta(days=1)
    )
    spring = _utc(upcoming_events(schedule, SPRING - dt.timedelta(days=2)))[:4]
    assert {t.astimezone(NY).hour for t in spring} == {9}
    assert [t.hour for t in spring] == [14, 14, 13, 13]
    fall = _utc(upcoming_events(schedule, FALL - dt.timedelta(days=2)))[:4]
    assert {t.astimezone(NY).hour for t in fall} == {9}
    assert [t.hour for t in fall] == [13, 13, 14, 14]


def test_daily_interval_in_the_gap_runs_once_that_day() -> None:
    schedule = IntervalSchedule(
        start_date=dt.datetime(2030, 1, 1, 2, 30, tzinfo=NY), interval=dt.timedelta(days=1)
    )
    times = _utc(upcoming_events(schedule, SPRING - dt.timedelta(days=1)))[:3]
    days = [t.astimezone(NY).day for t in times]
    assert days == [9, 10, 11]
    assert all(t.tzinfo == UTC for t in times)


def test_all_emitted_times_are_utc() -> None:
    schedule = Schedule(
        clocks=[
            clocks.CronClock("0 9 * * *", start_date=dt.datetime(2030, 1, 1, tzinfo=NY)),
            clocks.IntervalClock(
                dt.timedelta(hours=5),
                start_date=dt.datetime(2030, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo")),
            ),
        ]
    )
    times = _utc(upcoming_events(schedule, FALL))
    assert all(t.utcoffset() == dt.timedelta(0) for t in times)
    assert times == sorted(times)


def test_events_between_includes_both_ends_and_has_a_limit() -> None:
    schedule = CronSchedule("0 6 * * *")
    start = dt.datetime(2030, 1, 1, 6, tzinfo=UTC)
    events = events_between(schedule, start, start + dt.timedelta(days=2))
    assert _utc(events) == [start + dt.timedelta(days=d) for d in range(3)]
    with pytest.raises(InvalidInput, match="more than 2"):
        events_between(schedule, start, start + dt.timedelta(days=5), limit=2)


def test_parse_schedule_refuses_bad_references() -> None:
    with pytest.raises(InvalidInput, match="Invalid schedule"):
        parse_schedule({"type": "Schedule", "clocks": [{"type": "Nope"}]})
    ref = CronSchedule("0 6 * * *").to_ref()
    assert parse_schedule(ref).next(1, after=dt.datetime(2030, 1, 1, tzinfo=UTC)) == [
        dt.datetime(2030, 1, 1, 6, tzinfo=UTC)
    ]
