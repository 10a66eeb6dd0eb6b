"""A registered parent flow, run by the agent, that renames itself and maps child runs.

Needs a server and an agent (HEADWATER_API_URL).
"""

import sys
import time

from headwater import Client, Flow, Parameter, task, unmapped
from headwater.backend import FlowRunView, TaskRunView
from headwater.engine.state import Cancelled
from headwater.tasks.headwater import create_flow_run, get_task_run_result
from headwater.tasks.headwater.flow_run_cancel import CancelFlowRun
from headwater.tasks.headwater.flow_run_rename import RenameFlowRun

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-registered"


@task
def compute(x):
    return x * 10


@task
def add_up(values):
    return sum(values)


with Flow("compat-leaf") as leaf:
    compute(Parameter("x"))

rename = RenameFlowRun(flow_run_name="compat-renamed-parent")

with Flow("compat-orchestrator") as orchestrator:
    renamed = rename()
    ids = create_flow_run.map(
        flow_name=unmapped("compat-leaf"),
        project_name=unmapped(PROJECT),
        parameters=Parameter("inputs", default=[{"x": 1}, {"x": 2}]),
    )
    values = get_task_run_result.map(ids, task_slug=unmapped("compute-1"))
    total = add_up(values)


@task
def first_step():
    return 1


@task
def never_finishes():
    time.sleep(120)


with Flow("compat-self-cancel") as self_cancel:
    cancelled = CancelFlowRun()(upstream_tasks=[first_step()])
    never_finishes(upstream_tasks=[cancelled])


def wait_until_finished(flow_run_id, timeout=90):
    view = FlowRunView.from_flow_run_id(flow_run_id)
    deadline = time.monotonic() + timeout
    while not view.state.is_finished() and time.monotonic() < deadline:
        time.sleep(0.2)
        view = view.get_latest()
    return view


client = Client()
client.create_project(project_name=PROJECT)
leaf.register(project_name=PROJECT)
flow_id = orchestrator.register(project_name=PROJECT)

flow_run_id = client.create_flow_run(flow_id=flow_id)
view = FlowRunView.from_flow_run_id(flow_run_id)
deadline = time.monotonic() + 90
while not view.state.is_finished() and time.monotonic() < deadline:
    time.sleep(0.2)
    view = view.get_latest()
check("parent finished successfully", view.state.is_successful(), True)
check("parent renamed itself", view.name, "compat-renamed-parent")
check(
    "rename task returned True",
    view.get_task_run(task_slug="RenameFlowRun-1").get_result(),
    True,
)
check("total from child results", view.get_task_run(task_slug="add_up-1").get_result(), 30)
child_ids = view.get_task_run(task_slug="create_flow_run-1").get_result()
check("two children", len(child_ids), 2)
children = [FlowRunView.from_flow_run_id(i) for i in child_ids]
check("children succeeded", [c.state.is_successful() for c in children], [True, True])
check("child task by slug", TaskRunView.from_task_slug("compute-1", child_ids[1]).get_result(), 20)
mapped = view.get_task_run(task_slug="create_flow_run-1")
check("iter_mapped", [t.map_index for t in mapped.iter_mapped()], [0, 1])
check("flow metadata", view.get_flow_metadata().name, "compat-orchestrator")
slugs = {t.task_slug for t in view.get_all_task_runs()}
check(
    "all task runs",
    {"RenameFlowRun-1", "create_flow_run-1", "get_task_run_result-1", "add_up-1"} <= slugs,
    True,
)
check("task run ids", len(view.get_task_run_ids()) >= 4, True)
state_names = [type(s).__name__ for s in view.states]
check("state history ends Running -> Success", state_names[-2:], ["Running", "Success"])
check(
    "timestamps ascend",
    [s.timestamp for s in view.states] == sorted(s.timestamp for s in view.states),
    True,
)
messages = [log.message for log in view.get_logs()]
check("run logs reached the server", any("Beginning Flow run" in m for m in messages), True)

cancel_id = client.create_flow_run(flow_id=self_cancel.register(project_name=PROJECT))
started = time.monotonic()
cancelled_view = wait_until_finished(cancel_id)
check(
    "CancelFlowRun() without an id cancels its own run",
    isinstance(cancelled_view.state, Cancelled),
    True,
)
check(
    "the run stopped without waiting for the sleeping task",
    time.monotonic() - started < 60,
    True,
)

sys.exit(1 if FAILURES else 0)
