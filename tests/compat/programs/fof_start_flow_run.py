"""StartFlowRun (wait and no wait) and CancelFlowRun from a locally run parent.

Needs a server and an agent (HEADWATER_API_URL).
"""

import sys
import time
from datetime import timedelta

import headwater
from headwater import Client, Flow, Parameter, task
from headwater.engine.state import Cancelled
from headwater.tasks.headwater import (
    CancelFlowRun,
    create_flow_run,
    get_task_run_result,
    wait_for_flow_run,
)
from headwater.tasks.headwater.flow_run import StartFlowRun
from headwater.tasks.headwater.flow_run_rename import RenameFlowRun

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-startflowrun"


@task
def make_greeting(name):
    return f"hello {name}"


@task
def explode():
    raise ValueError("child failure")


@task
def nap():
    time.sleep(60)


@task
def read_origin():
    return headwater.context.get("origin")


with Flow("compat-context-reader") as context_reader:
    read_origin()

with Flow("compat-greeter") as greeter:
    make_greeting(Parameter("name", default="world"))

with Flow("compat-exploder") as exploder:
    explode()

with Flow("compat-sleeper") as sleeper:
    nap()

start_and_wait = StartFlowRun(
    flow_name="compat-greeter", project_name=PROJECT, wait=True, poll_interval=timedelta(seconds=3)
)
start_only = StartFlowRun(flow_name="compat-greeter", project_name=PROJECT)
start_failing = StartFlowRun(flow_name="compat-exploder", project_name=PROJECT, wait=True)
start_sleeper = StartFlowRun(flow_name="compat-sleeper", project_name=PROJECT)
cancel = CancelFlowRun()
start_with_context = StartFlowRun(
    flow_name="compat-context-reader", project_name=PROJECT, new_flow_context={"origin": "start"}
)

with Flow("compat-start-parent") as parent:
    waited = start_and_wait(parameters={"name": "a"})
    started = start_only(parameters={"name": "b"}, run_name="greeting-b")
    failed = start_failing()
    sleeping_id = start_sleeper()
    cancelled = cancel(flow_run_id=sleeping_id)
    after_cancel = wait_for_flow_run(sleeping_id, upstream_tasks=[cancelled])
    renamed_child = RenameFlowRun(flow_run_name="compat-renamed-child")(flow_run_id=sleeping_id)
    renamed_unknown = RenameFlowRun()(
        flow_run_id="00000000-0000-4000-8000-000000000000", flow_run_name="nobody"
    )
    rename_without_name = RenameFlowRun()(flow_run_id=started)
    origin_start = get_task_run_result(start_with_context(), "read_origin-1")
    created = create_flow_run(
        flow_name="compat-context-reader", project_name=PROJECT, context={"origin": "create"}
    )
    origin_create = get_task_run_result(created, "read_origin-1")


check("default task name", start_and_wait.name, "Flow compat-greeter")
try:
    StartFlowRun(
        flow_name="compat-greeter", project_name=PROJECT, parameters={"name": make_greeting}
    )
    check("a Task as a parameter value is refused", "no error", "TypeError")
except TypeError:
    check("a Task as a parameter value is refused", "TypeError", "TypeError")
try:
    StartFlowRun(flow_name="compat-greeter", wait=True, poll_interval=timedelta(seconds=1))
    check("poll_interval under 3 s is refused", "no error", "ValueError")
except ValueError:
    check("poll_interval under 3 s is refused", "ValueError", "ValueError")

client = Client()
client.create_project(project_name=PROJECT)
for flow in (greeter, exploder, sleeper, context_reader):
    flow.register(project_name=PROJECT)

state = parent.run()
check("parent failed because a waited child failed", state.is_failed(), True)
check("wait=True mirrors a successful child", state.result[waited].is_successful(), True)
check("wait=True mirrors a failed child", state.result[failed].is_failed(), True)
started_id = state.result[started].result
check(
    "wait=False returns a flow run id",
    isinstance(started_id, str) and len(started_id) > 0,
    True,
)
check("CancelFlowRun succeeded", bool(state.result[cancelled].result), True)
check(
    "cancelled child ends Cancelled",
    isinstance(state.result[after_cancel].result.state, Cancelled),
    True,
)

check(
    "StartFlowRun new_flow_context reaches the child",
    state.result[origin_start].result,
    "start",
)
check("create_flow_run context reaches the child", state.result[origin_create].result, "create")

deadline = time.monotonic() + 60
info = client.get_flow_run_info(started_id)
while not info.state.is_finished() and time.monotonic() < deadline:
    time.sleep(0.2)
    info = client.get_flow_run_info(started_id)
check("unwaited child finished", info.state.is_successful(), True)
check("unwaited child parameters", info.parameters, {"name": "b"})

sys.exit(1 if FAILURES else 0)
