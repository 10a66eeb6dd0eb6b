"""A flow on a schedule of two interval clocks that differ only in their parameter.

Written as users write scheduled flows for a server: the schedule lives on the Flow, and
the server creates the runs. ``E2E_SCHEDULE_SECONDS`` sets the interval (default 4).
"""

import os
from datetime import timedelta

from headwater import Flow, Parameter, task
from headwater.schedules import Schedule
from headwater.schedules.clocks import IntervalClock

every = timedelta(seconds=float(os.environ.get("E2E_SCHEDULE_SECONDS", "4")))
schedule = Schedule(
    clocks=[
        IntervalClock(every, parameter_defaults={"region": "eu"}),
        IntervalClock(every, parameter_defaults={"region": "us"}),
    ]
)


@task
def report(region: str) -> str:
    return f"report for {region}"


with Flow("e2e-scheduled", schedule=schedule) as flow:
    report(Parameter("region"))
