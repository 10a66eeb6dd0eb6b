"""Schedule: merging clocks, filters, adjustments, next(), and the one-clock builders."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from headwater.schedules import (
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
    Schedule,
    adjustments,
    clocks,
    filters,
)

START = datetime(2030, 1, 1, tzinfo=UTC)  # a Tuesday
HOURLY = clocks.IntervalClock(timedelta(hours=1), start_date=START)
DAILY = clocks.IntervalClock(timedelta(days=1), start_date=START)


def test_interval_and_cron_schedules() -> None:
    every_hour = IntervalSchedule(start_date=START, interval=timedelta(hours=1))
    assert [d.hour for d in every_hour.next(3, after=START + timedelta(minutes=30))] == [1, 2, 3]
    assert CronSchedule("30 6 * * *", start_date=START).next(1, after=START) == [
        datetime(2030, 1, 1, 6, 30, tzinfo=UTC)
    ]
    assert every_hour.start_date == START and every_hour.end_date is None
    with pytest.raises(TypeError, match="needs an interval"):
        IntervalSchedule(start_date=START)


def test_next_defaults_to_now_and_counts() -> None:
    schedule = IntervalSchedule(interval=timedelta(minutes=1))
    before = datetime.now(UTC)
    upcoming = schedule.next(2)
    assert len(upcoming) == 2 and before < upcoming[0] < upcoming[1]
    assert schedule.next(0) == []
    with pytest.raises(ValueError, match="n must be a non-negative integer"):
        schedule.next(-1)


def test_clocks_merge_in_order_without_duplicates() -> None:
    schedule = Schedule(
        clocks=[
            clocks.IntervalClock(timedelta(hours=2), start_date=START),
            clocks.IntervalClock(timedelta(hours=3), start_date=START),
        ]
    )
    got = schedule.next(5, after=START)
    assert [d.hour for d in got] == [2, 3, 4, 6, 8]
    assert schedule.start_date == START


def test_filters_or_filters_and_not_filters() -> None:
    weekdays = Schedule(clocks=[DAILY], filters=[filters.is_weekday])
    assert [d.day for d in weekdays.next(5, after=START - timedelta(minutes=1))] == [1, 2, 3, 4, 7]
    nine_or_five = Schedule(
        clocks=[HOURLY],
        or_filters=[filters.at_time(time(9)), filters.at_time(time(17))],
        not_filters=[filters.is_weekend],
    )
    got = nine_or_five.next(5, after=START)
    assert [(d.day, d.hour) for d in got] == [(1, 9), (1, 17), (2, 9), (2, 17), (3, 9)]


def test_a_filter_that_never_passes_stops_after_10000_events() -> None:
    never = Schedule(clocks=[HOURLY], filters=[lambda d: False])
    assert never.next(1, after=START) == []


def test_adjustments_apply_in_order() -> None:
    schedule = Schedule(
        clocks=[DAILY],
        filters=[filters.is_weekend],
        adjustments=[adjustments.next_weekday, adjustments.add(timedelta(hours=9))],
    )
    got = schedule.next(2, after=START)
    # Saturday 5th and Sunday 6th both move to Monday 7th, then to 9 am
    assert got == [datetime(2030, 1, 7, 9, tzinfo=UTC)] * 2


def test_return_events_and_parameter_defaults() -> None:
    schedule = Schedule(
        clocks=[
            clocks.CronClock("0 6 * * *", start_date=START, parameter_defaults={"r": "eu"}),
            clocks.CronClock("0 7 * * *", start_date=START, labels=["us"]),
        ]
    )
    events = schedule.next(3, after=START, return_events=True)
    assert [(e.start_time.hour, e.parameter_defaults, e.labels) for e in events] == [
        (6, {"r": "eu"}, None),
        (7, {}, ["us"]),
        (6, {"r": "eu"}, None),
    ]
    assert [e.start_time for e in schedule.emit_events(after=START)][:2] == [
        e.start_time for e in events[:2]
    ]


def test_rrule_schedule() -> None:
    from dateutil import rrule

    schedule = RRuleSchedule(rrule.rrule(rrule.MONTHLY, dtstart=datetime(2030, 1, 31)))
    assert [d.month for d in schedule.next(3, after=START)] == [1, 3, 5]


def test_schedule_argument_errors() -> None:
    with pytest.raises(TypeError, match="clocks must be a list of clocks"):
        Schedule(clocks=HOURLY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one clock"):
        Schedule(clocks=[])
    with pytest.raises(TypeError, match="each of clocks must be a Clock"):
        Schedule(clocks=[START])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="each of filters must be callable"):
        Schedule(clocks=[HOURLY], filters=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="filters must be a list of functions"):
        Schedule(clocks=[HOURLY], filters=filters.is_weekday)  # type: ignore[arg-type]
