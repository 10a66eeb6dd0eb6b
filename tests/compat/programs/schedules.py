"""Interval and cron schedules, clocks with parameter defaults, filters, end dates; on a flow,
flow.run(run_on_schedule=False) runs once now."""

import sys
from datetime import UTC, datetime, timedelta

from headwater import Flow, task
from headwater.schedules import CronSchedule, IntervalSchedule, Schedule, clocks, filters

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def say():
    return "hi"


START = datetime(2030, 1, 1, tzinfo=UTC)
interval = IntervalSchedule(start_date=START, interval=timedelta(hours=1))
cron = CronSchedule("0 6 * * *", start_date=START)

with Flow("scheduled", schedule=interval) as flow:
    s = say()


upcoming = interval.next(3, after=START + timedelta(minutes=30))
check("interval next", [d.hour for d in upcoming], [1, 2, 3])
check("interval dates", [(d.year, d.month, d.day) for d in upcoming], [(2030, 1, 1)] * 3)
daily = cron.next(2, after=START)
check("cron next", [(d.day, d.hour) for d in daily], [(1, 6), (2, 6)])
weekdays = Schedule(
    clocks=[clocks.IntervalClock(timedelta(days=1), start_date=START)],
    filters=[filters.is_weekday],
)
days = weekdays.next(5, after=START - timedelta(minutes=1))
check("weekday filter skips the weekend", [d.day for d in days], [1, 2, 3, 4, 7])
bounded = IntervalSchedule(
    start_date=START,
    interval=timedelta(hours=1),
    end_date=START + timedelta(hours=2, minutes=30),
)
check(
    "end_date stops the schedule",
    [d.hour for d in bounded.next(10, after=START - timedelta(minutes=1))],
    [0, 1, 2],
)
with_defaults = Schedule(
    clocks=[clocks.CronClock("0 6 * * *", start_date=START, parameter_defaults={"region": "eu"})]
)
event = with_defaults.next(1, after=START, return_events=True)[0]
check("clock event start time", (event.start_time.day, event.start_time.hour), (1, 6))
check("clock parameter defaults", event.parameter_defaults, {"region": "eu"})
check("flow keeps its schedule", flow.schedule is interval, True)
state = flow.run(run_on_schedule=False)
check("run_on_schedule=False runs once", state.result[s].result, "hi")

sys.exit(1 if FAILURES else 0)
