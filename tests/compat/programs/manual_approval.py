"""manual_only: a task pauses until its run is resumed."""

import sys

from headwater import Flow, task, triggers
from headwater.engine.flow_runner import FlowRunner
from headwater.engine.state import Paused, Resume

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def prepare():
    return "data"


@task(trigger=triggers.manual_only)
def publish(x):
    return f"published {x}"


with Flow("approval") as flow:
    data = prepare()
    published = publish(data)


state = FlowRunner(flow=flow).run(return_tasks=[published])
check("flow waits on manual_only", state.is_running(), True)
check("manual_only pauses", isinstance(state.result[published], Paused), True)

state = FlowRunner(flow=flow).run(task_states={published: Resume()}, return_tasks=[published])
check("resumed flow finished", state.is_successful(), True)
check("resumed task ran", state.result[published].result, "published data")

sys.exit(1 if FAILURES else 0)
