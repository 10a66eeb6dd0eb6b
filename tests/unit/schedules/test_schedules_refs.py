"""The JSON form of schedules: to_ref, schedule_from_ref, and Flow.serialize()."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from headwater import Flow, task
from headwater.schedules import Schedule, adjustments, clocks, filters, schedule_from_ref

START = datetime(2030, 1, 1, tzinfo=UTC)


def full_schedule() -> Schedule:
    from dateutil import rrule

    return Schedule(
        clocks=[
            clocks.IntervalClock(
                timedelta(hours=1),
                start_date=datetime(2030, 1, 1, tzinfo=ZoneInfo("Europe/Paris")),
                end_date=START + timedelta(days=30),
                parameter_defaults={"region": "eu"},
                labels=["eu"],
            ),
            clocks.CronClock("0 6 * * 1", start_date=START, day_or=False),
            clocks.DatesClock([START + timedelta(days=3)]),
            clocks.RRuleClock(rrule.rrule(rrule.DAILY, dtstart=datetime(2030, 1, 1))),
        ],
        filters=[filters.is_weekday, filters.between_times(time(5), time(18))],
        or_filters=[filters.between_dates(1, 1, 6, 30), filters.on_date(12, 24)],
        not_filters=[filters.at_time(time(12)), filters.is_day_of_week(2)],
        adjustments=[adjustments.add(timedelta(minutes=5)), adjustments.next_weekday],
    )


def test_round_trip_through_json_keeps_the_times_and_events() -> None:
    schedule = full_schedule()
    ref = json.loads(json.dumps(schedule.to_ref()))
    assert ref["type"] == "Schedule" and ref["clocks"][0]["start_date"]["tz"] == "Europe/Paris"
    again = schedule_from_ref(ref)
    assert again is not None and again.to_ref() == ref
    before = schedule.next(40, after=START, return_events=True)
    after = again.next(40, after=START, return_events=True)
    assert len(before) == 40 and before == after
    assert after[0].start_time.tzinfo == ZoneInfo("Europe/Paris")


def test_functions_without_a_json_form_are_refused() -> None:
    schedule = Schedule(clocks=[clocks.IntervalClock(timedelta(hours=1))], filters=[bool])
    with pytest.raises(ValueError, match="filter <class 'bool'> has no JSON form"):
        schedule.to_ref()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"type": "Nope"}, "must have type 'Schedule'"),
        ({"type": "Schedule", "clocks": []}, "non-empty list of clocks"),
        ({"type": "Schedule", "clocks": [{"type": "Sundial"}]}, "unknown clock type 'Sundial'"),
        ({"type": "Schedule", "clocks": [{"type": "IntervalClock"}]}, "invalid IntervalClock"),
        (
            {
                "type": "Schedule",
                "clocks": [{"type": "CronClock", "cron": "0 6 * * *"}],
                "filters": [{"fn": "os.system", "kwargs": {"command": "true"}}],
            },
            "unknown schedule filter 'system'",
        ),
        (
            {
                "type": "Schedule",
                "clocks": [
                    {"type": "CronClock", "cron": "0 6 * * *", "start_date": {"dt": "yesterday"}}
                ],
            },
            "invalid date",
        ),
    ],
)
def test_malformed_references_name_the_problem(ref: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schedule_from_ref(ref)


def test_none_stays_none() -> None:
    assert schedule_from_ref(None) is None


@task
def noop() -> None:
    return None


def test_flow_serialize_includes_the_schedule() -> None:
    schedule = full_schedule()
    with Flow("scheduled", schedule=schedule) as flow:
        noop()
    assert flow.serialize()["schedule"] == schedule.to_ref()
    with Flow("unscheduled") as plain:
        noop()
    assert plain.serialize()["schedule"] is None


def test_flow_serialize_keeps_going_when_the_schedule_has_no_json_form() -> None:
    custom = Schedule(clocks=[clocks.IntervalClock(timedelta(hours=1))], filters=[bool])
    with Flow("custom", schedule=custom) as flow:
        noop()
    assert flow.serialize()["schedule"] == {"type": "Schedule"}
    assert len(flow.serialized_hash()) == 64
