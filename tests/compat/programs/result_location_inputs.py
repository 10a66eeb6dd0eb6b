"""Result locations templated with parameters and the task's own inputs."""

import os
import tempfile

os.environ["HEADWATER__FLOWS__CHECKPOINTING"] = "true"

import sys

from headwater import Flow, Parameter, task
from headwater.engine.results import LocalResult

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


RESULT_DIR = tempfile.mkdtemp()


@task(result=LocalResult(dir=RESULT_DIR, location="{flow_name}/{region}/{day}.pkl"))
def daily_report(region, day):
    return f"{region} report for {day}"


with Flow("partitioned") as flow:
    region = Parameter("region", default="eu")
    report = daily_report(region, day="2030-01-01")


state = flow.run()
check("flow succeeded", state.is_successful(), True)
expected = os.path.join(RESULT_DIR, "partitioned", "eu", "2030-01-01.pkl")
check("location from parameter and input", os.path.exists(expected), True)
state = flow.run(parameters={"region": "us"})
check(
    "second partition",
    os.path.exists(os.path.join(RESULT_DIR, "partitioned", "us", "2030-01-01.pkl")),
    True,
)

sys.exit(1 if FAILURES else 0)
