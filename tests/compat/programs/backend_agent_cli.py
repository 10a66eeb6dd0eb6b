"""A labelled local agent started the way Prefect 1 deployments did
(`agent local start --label L --no-hostname-label`), running a flow registered with
that label.

Needs a server (HEADWATER_API_URL).
"""

import os
import subprocess
import sys
import time

from headwater import Client, Flow, task
from headwater.backend import FlowRunView

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-agent-cli"
LABEL = "compat-agent-label"
HEADWATER = os.path.join(os.path.dirname(sys.executable), "headwater")


@task
def where():
    return os.environ.get("COMPAT_AGENT_ENV")


with Flow("compat-labelled") as flow:
    where()


client = Client()
client.create_project(project_name=PROJECT)
flow_id = flow.register(project_name=PROJECT, labels=[LABEL])
agent = subprocess.Popen(
    [
        HEADWATER,
        "agent",
        "local",
        "start",
        "--label",
        LABEL,
        "--no-hostname-label",
        "--name",
        "compat-agent",
        "--env",
        "COMPAT_AGENT_ENV=from-agent",
    ],
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    text=True,
)
try:
    run_id = client.create_flow_run(flow_id=flow_id)
    view = FlowRunView.from_flow_run_id(run_id)
    deadline = time.monotonic() + 60
    while not view.state.is_finished() and time.monotonic() < deadline and agent.poll() is None:
        time.sleep(0.2)
        view = view.get_latest()
    check("agent accepted Prefect 1's options", agent.poll(), None)
    check("labelled run succeeded", view.state.is_successful(), True)
    if view.state.is_successful():
        check(
            "agent --env reached the run",
            view.get_task_run(task_slug="where-1").get_result(),
            "from-agent",
        )
finally:
    agent.terminate()
    output = agent.communicate(timeout=30)[0]
print(output[-2000:])

sys.exit(1 if FAILURES else 0)
