"""A flow on an hourly interval schedule, with a parameter its clock does not set."""

import datetime

from headwater import Flow, Parameter, task
from headwater.schedules import IntervalSchedule

schedule = IntervalSchedule(
    start_date=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    interval=datetime.timedelta(hours=1),
)


@task
def report(region: str) -> str:
    return f"report for {region}"


with Flow("ui-scheduled", schedule=schedule) as flow:
    report(Parameter("region", default="eu"))
