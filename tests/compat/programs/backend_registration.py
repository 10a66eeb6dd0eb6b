"""Registering flows from Python: versions, run configs, views and idempotent registration.

Needs a server and an agent (HEADWATER_API_URL).
"""

import os
import sys
import time

from headwater import Client, Flow, Parameter, task
from headwater.backend import FlowRunView, FlowView
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


def wait_until_finished(flow_run_id, timeout=60):
    view = FlowRunView.from_flow_run_id(flow_run_id)
    deadline = time.monotonic() + timeout
    while not view.state.is_finished() and time.monotonic() < deadline:
        time.sleep(0.2)
        view = view.get_latest()
    return view


if __name__ == "__main__":
    client = Client()
    client.create_project(project_name=PROJECT)
    first_id = flow.register(project_name=PROJECT)
    second_id = flow.register(project_name=PROJECT)
    check("each registration is a new version", first_id != second_id, True)

    view = FlowView.from_flow_name("compat-env", project_name=PROJECT)
    check("latest version", (view.flow_id, view.version), (second_id, 2))
    check("project name", view.project_name, PROJECT)
    check("first version by id", FlowView.from_flow_id(first_id).version, 1)

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

    keyed = flow.register(project_name=PROJECT, idempotency_key=flow.serialized_hash())
    again = flow.register(project_name=PROJECT, idempotency_key=flow.serialized_hash())
    check("same idempotency key, same version", keyed, again)

    sys.exit(1 if FAILURES else 0)
