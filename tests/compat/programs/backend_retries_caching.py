"""Retries and output caching in agent runs: a flaky task retries within the run, and a
task with cache_for is Cached in the next run of the same flow version.

Needs a server and an agent (HEADWATER_API_URL).
"""

import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta

from headwater import Client, Flow, task
from headwater.backend import FlowRunView
from headwater.run_configs import LocalRun

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-retries-caching"
# The flow-run process gets the directory through its run config's environment.
STATE_DIR = os.environ.get("COMPAT_STATE_DIR") or tempfile.mkdtemp()


@task(max_retries=2, retry_delay=timedelta(seconds=1))
def flaky():
    marker = os.path.join(STATE_DIR, "attempted")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return "recovered"


@task(cache_for=timedelta(hours=1))
def expensive():
    return uuid.uuid4().hex


with Flow("compat-retries-caching") as flow:
    flaky()
    expensive()

flow.run_config = LocalRun(env={"COMPAT_STATE_DIR": STATE_DIR})


def run_once(client, flow_id):
    view = FlowRunView.from_flow_run_id(client.create_flow_run(flow_id=flow_id))
    deadline = time.monotonic() + 60
    while not view.state.is_finished() and time.monotonic() < deadline:
        time.sleep(0.2)
        view = view.get_latest()
    return view


client = Client()
client.create_project(project_name=PROJECT)
flow_id = flow.register(project_name=PROJECT)

first = run_once(client, flow_id)
check("first run succeeded after a retry", first.state.is_successful(), True)
check("flaky task recovered", first.get_task_run(task_slug="flaky-1").get_result(), "recovered")

second = run_once(client, flow_id)
check("second run succeeded", second.state.is_successful(), True)
cached = second.get_task_run(task_slug="expensive-1")
check("cache_for task is Cached in the next run", type(cached.state).__name__, "Cached")
check(
    "cached value is the first run's",
    cached.get_result(),
    first.get_task_run(task_slug="expensive-1").get_result(),
)

sys.exit(1 if FAILURES else 0)
