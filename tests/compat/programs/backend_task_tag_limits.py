"""Task concurrency limits by tag in an agent run, with Prefect 1's client methods:
update_task_tag_limit, get_task_tag_limit, delete_task_tag_limit.

Needs a server and an agent (HEADWATER_API_URL).
"""

import itertools
import sys
import time

from headwater import Client, Flow, task
from headwater.backend import FlowRunView
from headwater.executors import LocalDaskExecutor

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-task-tag-limits"
TAG = "compat-warehouse"


@task
def batches():
    return [1, 2, 3, 4]


@task(tags=[TAG])
def load(batch):
    started = time.time()
    time.sleep(0.5)
    return (started, time.time())


with Flow("compat-task-tag-limits", executor=LocalDaskExecutor(scheduler="threads")) as flow:
    load.map(batches())


def overlapping(intervals):
    ordered = sorted(intervals)
    return sum(1 for a, b in itertools.pairwise(ordered) if b[0] < a[1])


client = Client()
client.create_project(project_name=PROJECT)
flow_id = flow.register(project_name=PROJECT)

check("no limit before one is set", client.get_task_tag_limit(TAG), None)
client.update_task_tag_limit(TAG, 1)
check("get_task_tag_limit after update", client.get_task_tag_limit(TAG), 1)
try:
    client.update_task_tag_limit(TAG, -1)
    check("a negative limit is refused", "accepted", "ValueError")
except ValueError as exc:
    check("a negative limit is refused", str(exc), "Concurrency limits must be >= 0")

view = FlowRunView.from_flow_run_id(client.create_flow_run(flow_id=flow_id))
deadline = time.monotonic() + 90
while not view.state.is_finished() and time.monotonic() < deadline:
    time.sleep(0.2)
    view = view.get_latest()
check("the run succeeded", view.state.is_successful(), True)
children = list(view.get_task_run(task_slug=flow.get_tasks(name="load")[0].slug).iter_mapped())
intervals = [child.get_result() for child in children]
check("every mapped task ran", len(intervals), 4)
check("no two tagged tasks ran at once", overlapping(intervals), 0)

limit_id = client.get_task_tag_limits(TAG)[0]["id"]
client.delete_task_tag_limit(limit_id)
check("no limit after delete", client.get_task_tag_limit(TAG), None)
try:
    client.delete_task_tag_limit(limit_id)
    check("deleting twice is refused", "deleted", "ValueError")
except ValueError:
    check("deleting twice is refused", "ValueError", "ValueError")

sys.exit(1 if FAILURES else 0)
