"""Interval and cron schedules on a flow; flow.run(run_on_schedule=False) runs once now."""

import sys
from datetime import UTC, datetime, timedelta

from headwater.schedules import CronSchedule, IntervalSchedule

from headwater import Flow, task

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


if __name__ == "__main__":
    upcoming = interval.next(3, after=START + timedelta(minutes=30))
    check("interval next", [d.hour for d in upcoming], [1, 2, 3])
    check("interval dates", [(d.year, d.month, d.day) for d in upcoming], [(2030, 1, 1)] * 3)
    daily = cron.next(2, after=START)
    check("cron next", [(d.day, d.hour) for d in daily], [(1, 6), (2, 6)])
    check("flow keeps its schedule", flow.schedule is interval, True)
    state = flow.run(run_on_schedule=False)
    check("run_on_schedule=False runs once", state.result[s].result, "hi")

    sys.exit(1 if FAILURES else 0)
