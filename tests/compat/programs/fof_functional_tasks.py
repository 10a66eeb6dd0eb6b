"""Flow of flows with create_flow_run, wait_for_flow_run and get_task_run_result.

The parent runs locally with flow.run(); its children run on an agent. Needs a server and
an agent (HEADWATER_API_URL).
"""

import sys
import time
from datetime import timedelta

from headwater import Client, Flow, Parameter, task, unmapped
from headwater.backend import FlowRunView
from headwater.executors import LocalDaskExecutor
from headwater.tasks.headwater import create_flow_run, get_task_run_result, wait_for_flow_run

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-functional"


@task
def get_some_data(n):
    return list(range(n))


with Flow("compat-child") as child_flow:
    n = Parameter("n", default=3)
    get_some_data(n)


@task
def square(x):
    return x * x


with Flow("compat-mapped-child") as mapped_child:
    square.map(Parameter("xs", default=[1, 2, 3]))


@task
def explode():
    raise ValueError("child failure")


with Flow("compat-exploding-child") as exploding_child:
    explode()


@task
def summarize(data, view):
    return {"total": sum(data), "child_succeeded": view.state.is_successful()}


with Flow("compat-parent") as parent_flow:
    child_run_id = create_flow_run(
        flow_name="compat-child", project_name=PROJECT, parameters={"n": 4}
    )
    child_view = wait_for_flow_run(child_run_id, stream_states=True, stream_logs=True)
    data = get_task_run_result(
        child_run_id, "get_some_data-1", poll_time=2, upstream_tasks=[child_view]
    )
    summary = summarize(data, child_view)
    mapped_ids = create_flow_run.map(
        flow_name=unmapped("compat-child"),
        project_name=unmapped(PROJECT),
        parameters=[{"n": 1}, {"n": 2}],
    )
    mapped_data = get_task_run_result.map(mapped_ids, task_slug=unmapped("get_some_data-1"))
    squares_id = create_flow_run(flow_name="compat-mapped-child", project_name=PROJECT)
    all_squares = get_task_run_result(squares_id, "square-1")
    one_square = get_task_run_result(squares_id, "square-1", map_index=1)


@task
def clock():
    return time.time()


with Flow("compat-clock") as clock_child:
    clock()

with Flow("compat-delayed-parent") as delayed_parent:
    delayed_id = create_flow_run(
        flow_name="compat-clock",
        project_name=PROJECT,
        scheduled_start_time=timedelta(seconds=2),
        run_name="compat-delayed",
    )
    ran_at = get_task_run_result(delayed_id, "clock-1")

with Flow("compat-parallel-parent", executor=LocalDaskExecutor()) as parallel_parent:
    parallel_ids = create_flow_run.map(
        flow_name=unmapped("compat-child"),
        project_name=unmapped(PROJECT),
        parameters=[{"n": 1}, {"n": 2}, {"n": 3}],
    )
    finished = wait_for_flow_run.map(parallel_ids, raise_final_state=unmapped(True))
    parallel_data = get_task_run_result.map(
        parallel_ids, task_slug=unmapped("get_some_data-1"), upstream_tasks=[finished]
    )

with Flow("compat-mistakes") as mistakes:
    unknown_flow = create_flow_run(flow_name="compat-no-such-flow", project_name=PROJECT)
    known_id = create_flow_run(flow_name="compat-child", project_name=PROJECT)
    empty_slug = get_task_run_result(known_id, "")
    unknown_slug = get_task_run_result(known_id, "no_such_task-1")

with Flow("compat-watching-parent") as watching_parent:
    bad_id = create_flow_run(flow_name="compat-exploding-child", project_name=PROJECT)
    observed = wait_for_flow_run(bad_id)
    raised = wait_for_flow_run(bad_id, raise_final_state=True)


client = Client()
client.create_project(project_name=PROJECT)
for flow in (child_flow, mapped_child, exploding_child, clock_child):
    flow.register(project_name=PROJECT)

state = parent_flow.run()
check("parent succeeded", state.is_successful(), True)
check(
    "child result through the parent",
    state.result[summary].result,
    {"total": 6, "child_succeeded": True},
)
check("mapped children results", state.result[mapped_data].result, [[0], [0, 1]])

child_id = state.result[child_run_id].result
view = FlowRunView.from_flow_run_id(child_id)
check("child finished successfully", view.state.is_successful(), True)
check("child parameters", view.parameters, {"n": 4})
check("child name is '<parent run name>-<child flow>'", view.name.endswith("-compat-child"), True)
check("mapped children are distinct runs", len(set(state.result[mapped_ids].result)), 2)

check("mapped child task, every result", state.result[all_squares].result, [1, 4, 9])
check("mapped child task, one map_index", state.result[one_square].result, 4)

state = parallel_parent.run()
check("parallel parent on threads succeeded", state.is_successful(), True)
check("one child per mapped input", len(set(state.result[parallel_ids].result)), 3)
check("parallel children results", state.result[parallel_data].result, [[0], [0, 1], [0, 1, 2]])

created_at = time.time()
state = delayed_parent.run()
check("delayed child succeeded", state.is_successful(), True)
check(
    "scheduled_start_time delays the child",
    state.result[ran_at].result - created_at >= 1.9,
    True,
)
check(
    "run_name",
    FlowRunView.from_flow_run_id(state.result[delayed_id].result).name,
    "compat-delayed",
)

state = mistakes.run()
check("unknown flow name fails the task", state.result[unknown_flow].is_failed(), True)
check(
    "... naming the flow",
    "compat-no-such-flow" in (state.result[unknown_flow].message or ""),
    True,
)
check("empty task slug fails the task", state.result[empty_slug].is_failed(), True)
check(
    "... saying it is empty",
    "`task_slug` is empty" in (state.result[empty_slug].message or ""),
    True,
)
check("unknown task slug fails the task", state.result[unknown_slug].is_failed(), True)
check("... naming the slug", "no_such_task-1" in (state.result[unknown_slug].message or ""), True)

state = watching_parent.run()
check("parent fails when raise_final_state sees a failure", state.is_failed(), True)
check("without raise_final_state the wait succeeds", state.result[observed].is_successful(), True)
check(
    "... and returns the failed child's view",
    state.result[observed].result.state.is_failed(),
    True,
)
check("raise_final_state mirrors Failed", type(state.result[raised]).__name__, "Failed")

sys.exit(1 if FAILURES else 0)
