"""Clocks: interval, cron, dates and rrule events, time zones, bounds, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from headwater.schedules import clocks

START = datetime(2030, 1, 1, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def take(clock: clocks.Clock, n: int, after: datetime) -> list[datetime]:
    out = []
    for event in clock.events(after=after):
        out.append(event.start_time)
        if len(out) == n:
            break
    return out


def test_interval_clock_starts_at_its_start_date_and_is_strictly_after() -> None:
    clock = clocks.IntervalClock(timedelta(hours=1), start_date=START)
    assert take(clock, 2, START - timedelta(days=3)) == [START, START + timedelta(hours=1)]
    assert take(clock, 1, START) == [START + timedelta(hours=1)]
    assert take(clock, 1, START + timedelta(minutes=59)) == [START + timedelta(hours=1)]


def test_interval_clock_without_start_counts_from_2019() -> None:
    clock = clocks.IntervalClock(timedelta(days=1))
    after = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert take(clock, 1, after) == [datetime(2025, 6, 2, tzinfo=UTC)]


def test_interval_clock_end_date_is_inclusive() -> None:
    clock = clocks.IntervalClock(
        timedelta(hours=1), start_date=START, end_date=START + timedelta(hours=2)
    )
    assert take(clock, 10, START - timedelta(seconds=1)) == [
        START + timedelta(hours=h) for h in range(3)
    ]


def test_daily_interval_keeps_the_local_hour_across_dst() -> None:
    clock = clocks.IntervalClock(timedelta(days=1), start_date=datetime(2021, 3, 12, 9, tzinfo=NY))
    got = take(clock, 3, datetime(2021, 3, 12, tzinfo=NY))
    assert [d.hour for d in got] == [9, 9, 9]
    assert got[1].utcoffset() != got[2].utcoffset()  # DST began on 14 March
    # jumping far ahead across the autumn change must not skip a day
    got = take(clock, 1, datetime(2021, 12, 1, 8, 30, tzinfo=NY))
    assert got == [datetime(2021, 12, 1, 9, tzinfo=NY)]


def test_hourly_interval_follows_elapsed_time_across_dst() -> None:
    clock = clocks.IntervalClock(timedelta(hours=1), start_date=datetime(2021, 11, 7, tzinfo=NY))
    got = take(clock, 3, datetime(2021, 11, 7, tzinfo=NY))
    assert [(d.astimezone(UTC) - got[0].astimezone(UTC)) for d in got] == [
        timedelta(0),
        timedelta(hours=1),
        timedelta(hours=2),
    ]
    assert [d.hour for d in got] == [1, 1, 2]  # 1 am happens twice that night


def test_interval_clock_rejects_bad_intervals() -> None:
    with pytest.raises(ValueError, match="interval must be greater than 0"):
        clocks.IntervalClock(timedelta(0))
    with pytest.raises(TypeError, match="interval must be a timedelta"):
        clocks.IntervalClock(60)  # type: ignore[arg-type]


def test_naive_dates_are_utc() -> None:
    clock = clocks.IntervalClock(timedelta(hours=1), start_date=datetime(2030, 1, 1))
    assert clock.start_date == START
    assert take(clock, 1, datetime(2030, 1, 1, 0, 30)) == [START + timedelta(hours=1)]


def test_cron_clock_in_utc_and_in_the_start_dates_zone() -> None:
    assert take(clocks.CronClock("0 6 * * *"), 2, START) == [
        datetime(2030, 1, 1, 6, tzinfo=UTC),
        datetime(2030, 1, 2, 6, tzinfo=UTC),
    ]
    local = clocks.CronClock("0 6 * * *", start_date=datetime(2030, 1, 1, tzinfo=NY))
    got = take(local, 1, START)
    assert got[0].tzinfo is NY and got[0].hour == 6 and got[0].day == 1


def test_cron_clock_includes_its_start_date_and_stops_at_end_date() -> None:
    clock = clocks.CronClock(
        "0 * * * *", start_date=START, end_date=START + timedelta(hours=1, minutes=30)
    )
    assert take(clock, 10, START - timedelta(days=10)) == [START, START + timedelta(hours=1)]


def test_cron_clock_fires_a_repeated_local_hour_once() -> None:
    clock = clocks.CronClock("0 * * * *", start_date=datetime(2021, 11, 7, tzinfo=NY))
    got = take(clock, 3, datetime(2021, 11, 7, tzinfo=NY))
    assert [d.hour for d in got] == [1, 2, 3]


def test_cron_day_or() -> None:
    # the 1st of the month, or a Monday (cron's usual OR) ...
    either = clocks.CronClock("0 0 1 * 1", start_date=START)
    assert [d.day for d in take(either, 3, START)] == [7, 14, 21]
    # ... or only a Monday that is also the 1st
    both = clocks.CronClock("0 0 1 * 1", start_date=START, day_or=False)
    assert [(d.year, d.month) for d in take(both, 1, START)] == [(2030, 4)]


def test_cron_clock_rejects_an_invalid_expression() -> None:
    with pytest.raises(ValueError, match="Invalid cron string: 'every day'"):
        clocks.CronClock("every day")


def test_dates_clock() -> None:
    dates = [START + timedelta(days=2), START, START + timedelta(days=1)]
    clock = clocks.DatesClock(dates, parameter_defaults={"x": 1})
    assert clock.start_date == START and clock.end_date == START + timedelta(days=2)
    assert take(clock, 5, START) == [START + timedelta(days=1), START + timedelta(days=2)]
    with pytest.raises(ValueError, match="at least one date"):
        clocks.DatesClock([])


def test_rrule_clock() -> None:
    from dateutil import rrule

    rule = rrule.rrule(rrule.WEEKLY, dtstart=datetime(2030, 1, 1), byweekday=rrule.FR)
    clock = clocks.RRuleClock(rule, end_date=datetime(2030, 1, 20, tzinfo=UTC))
    assert take(clock, 5, START) == [
        datetime(2030, 1, 4, tzinfo=UTC),
        datetime(2030, 1, 11, tzinfo=UTC),
        datetime(2030, 1, 18, tzinfo=UTC),
    ]
    with pytest.raises(TypeError, match="dateutil rrule"):
        clocks.RRuleClock("FREQ=DAILY")


def test_events_carry_defaults_and_labels_and_compare_by_time() -> None:
    clock = clocks.IntervalClock(
        timedelta(hours=1), start_date=START, parameter_defaults={"a": 1}, labels=["eu"]
    )
    event = next(iter(clock.events(after=START)))
    assert event.parameter_defaults == {"a": 1} and event.labels == ["eu"]
    assert event == START + timedelta(hours=1)
    assert event > START and event < START + timedelta(hours=2)
    assert event != clocks.ClockEvent(event.start_time, {"a": 2})
    with pytest.raises(TypeError, match="not supported between ClockEvent and int"):
        _ = event < 3


def test_clock_argument_errors() -> None:
    with pytest.raises(TypeError, match="start_date must be a datetime"):
        clocks.IntervalClock(timedelta(hours=1), start_date="2030-01-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="parameter_defaults must be a dict"):
        clocks.IntervalClock(timedelta(hours=1), parameter_defaults=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="labels must be a list of strings"):
        clocks.IntervalClock(timedelta(hours=1), labels="eu")
    with pytest.raises(NotImplementedError):
        next(iter(clocks.Clock().events()))


def test_pendulum_dates_are_accepted() -> None:
    pendulum = pytest.importorskip("pendulum")
    clock = clocks.IntervalClock(
        timedelta(days=1), start_date=pendulum.datetime(2030, 3, 8, 9, tz="America/New_York")
    )
    got = take(clock, 3, pendulum.datetime(2030, 3, 8, tz="UTC"))
    assert [(d.day, d.hour) for d in got] == [(8, 9), (9, 9), (10, 9)]
    assert type(got[0]) is datetime
