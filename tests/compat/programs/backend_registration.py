"""Registering flows from Python: versions, run configs, views, context and results in agent runs.

Needs a server and an agent (HEADWATER_API_URL).
"""

import os
import sys
import tempfile
import time

import headwater
from headwater import Client, Flow, Parameter, task
from headwater.backend import FlowRunView, FlowView
from headwater.engine.results import LocalResult
from headwater.executors import LocalDaskExecutor
from headwater.run_configs import LocalRun

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-registration"


@task
def read_env(suffix):
    return os.environ.get("COMPAT_GREETING", "unset") + suffix


with Flow("compat-env") as flow:
    greeting = read_env(Parameter("suffix", default="!"))

flow.run_config = LocalRun(env={"COMPAT_GREETING": "howdy"})

# The flow-run process gets the directory through its run config's environment.
RESULT_DIR = os.environ.get("COMPAT_RESULT_DIR") or tempfile.mkdtemp()


@task
def backend_context():
    ctx = headwater.context
    return {
        "flow_run_id": ctx.get("flow_run_id"),
        "flow_run_name": ctx.get("flow_run_name"),
        "flow_id": ctx.get("flow_id"),
        "running_with_backend": ctx.get("running_with_backend"),
        "task_run_id": ctx.get("task_run_id"),
    }


@task(result=LocalResult(dir=RESULT_DIR, location="explicit.pkl"))
def explicit_result():
    return [1, 2]


@task
def working_directory():
    return os.getcwd()


@task
def double(x):
    return 2 * x


with Flow("compat-context", executor=LocalDaskExecutor()) as context_flow:
    backend_context()
    explicit_result()
    double.map([1, 2, 3])
    working_directory()

context_flow.run_config = LocalRun(env={"COMPAT_RESULT_DIR": RESULT_DIR}, working_dir=RESULT_DIR)


def wait_until_finished(flow_run_id, timeout=60):
    view = FlowRunView.from_flow_run_id(flow_run_id)
    deadline = time.monotonic() + timeout
    while not view.state.is_finished() and time.monotonic() < deadline:
        time.sleep(0.2)
        view = view.get_latest()
    return view


client = Client()
client.create_project(project_name=PROJECT)
first_id = flow.register(project_name=PROJECT)
second_id = flow.register(project_name=PROJECT)
check("each registration is a new version", first_id != second_id, True)
context_id = context_flow.register(project_name=PROJECT)

view = FlowView.from_flow_name("compat-env", project_name=PROJECT)
check("by name: the latest version", view.flow_id, second_id)
check("latest version is not archived", view.archived, False)
check("project name", view.project_name, PROJECT)
check("a new version archives the previous one", FlowView.from_flow_id(first_id).archived, True)

run_id = client.create_flow_run(flow_id=second_id, parameters={"suffix": "?"})
run = wait_until_finished(run_id)
check("run succeeded", run.state.is_successful(), True)
check(
    "LocalRun env reached the task",
    run.get_task_run(task_slug="read_env-1").get_result(),
    "howdy?",
)
check("run parameters", run.parameters, {"suffix": "?"})
check("run belongs to the flow", run.flow_id, second_id)

run_id = client.create_flow_run(flow_id=context_id, run_name="compat-context-run")
run = wait_until_finished(run_id)
check("backend run succeeded", run.state.is_successful(), True)
seen = run.get_task_run(task_slug="backend_context-1").get_result()
check("context flow_run_id", seen["flow_run_id"], run_id)
check("context flow_run_name", seen["flow_run_name"], "compat-context-run")
check("context flow_id", seen["flow_id"], context_id)
check("context running_with_backend", seen["running_with_backend"], True)
check(
    "context task_run_id",
    seen["task_run_id"],
    run.get_task_run(task_slug="backend_context-1").task_run_id,
)
check(
    "explicit LocalResult written by the agent run",
    os.path.exists(os.path.join(RESULT_DIR, "explicit.pkl")),
    True,
)
check(
    "explicit LocalResult read through the view",
    run.get_task_run(task_slug="explicit_result-1").get_result(),
    [1, 2],
)
check(
    "LocalDaskExecutor in the agent run",
    run.get_task_run(task_slug="double-1").get_result(),
    [2, 4, 6],
)

sys.exit(1 if FAILURES else 0)
