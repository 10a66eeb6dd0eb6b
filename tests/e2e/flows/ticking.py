"""A flow every two seconds (one interval clock, no parameters)."""

from datetime import timedelta

from headwater import Flow, task
from headwater.schedules import IntervalSchedule


@task
def tick() -> int:
    return 1


with Flow("e2e-ticking", schedule=IntervalSchedule(interval=timedelta(seconds=2))) as flow:
    tick()
