"""The two flow-of-flows shapes of Prefect 1's documentation, renamed.

1. The flow-to-flow idiom: create_flow_run by the child's name (no project) and read a
   child task's result by its slug.
2. The orchestrator diamond: StartFlowRun(wait=True) tasks wired with upstream_tasks,
   passing a task instance that was never called as an upstream task.

Needs a server and an agent (HEADWATER_API_URL).
"""

import os
import sys
import tempfile
import time

from headwater import Client, Flow, Parameter, task
from headwater.tasks.headwater import StartFlowRun, create_flow_run, get_task_run_result

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


PROJECT = "compat-docs"


@task
def create_some_data(length: int):
    return list(range(length))


with Flow("compat-docs-child") as child_flow:
    data_size = Parameter("data_size", default=5)
    data = create_some_data(data_size)

with Flow("compat-docs-parent") as parent_flow:
    child_run_id = create_flow_run(flow_name=child_flow.name, parameters=dict(data_size=10))
    child_data = get_task_run_result(child_run_id, "create_some_data-1")


@task
def say(word, log_dir):
    # Each child records when it started and ended, to check the orchestrator's order.
    started = time.time()
    time.sleep(0.2)
    with open(os.path.join(log_dir, word), "w") as handle:
        handle.write(f"{started} {time.time()}")
    return word


with Flow("compat-docs-A") as flow_a_child:
    say("A", Parameter("log_dir"))

with Flow("compat-docs-B") as flow_b_child:
    say("B", Parameter("log_dir"))

with Flow("compat-docs-C") as flow_c_child:
    say("C", Parameter("log_dir"))

with Flow("compat-docs-D") as flow_d_child:
    say("D", Parameter("log_dir"))

LOG_DIR = tempfile.mkdtemp()
PARAMS = {"log_dir": LOG_DIR}
flow_a = StartFlowRun(flow_name="compat-docs-A", project_name=PROJECT, parameters=PARAMS, wait=True)
flow_b = StartFlowRun(flow_name="compat-docs-B", project_name=PROJECT, parameters=PARAMS, wait=True)
flow_c = StartFlowRun(flow_name="compat-docs-C", project_name=PROJECT, parameters=PARAMS, wait=True)
flow_d = StartFlowRun(flow_name="compat-docs-D", project_name=PROJECT, parameters=PARAMS, wait=True)

with Flow("compat-docs-orchestrator") as orchestrator:
    b = flow_b(upstream_tasks=[flow_a])
    c = flow_c(upstream_tasks=[flow_a])
    d = flow_d(upstream_tasks=[b, c])


Client().create_project(project_name=PROJECT)
child_flow.register(project_name=PROJECT)
for letter_flow in (flow_a_child, flow_b_child, flow_c_child, flow_d_child):
    letter_flow.register(project_name=PROJECT)

state = parent_flow.run()
check("flow-to-flow parent succeeded", state.is_successful(), True)
check("child data", state.result[child_data].result, list(range(10)))

state = orchestrator.run()
check("orchestrator succeeded", state.is_successful(), True)
check("the uncalled task joined the flow", flow_a in orchestrator.tasks, True)
check("four children ran", len(orchestrator.tasks), 4)
check(
    "every StartFlowRun succeeded",
    all(state.result[t].is_successful() for t in orchestrator.tasks),
    True,
)
times = {}
for letter in "ABCD":
    with open(os.path.join(LOG_DIR, letter)) as handle:
        times[letter] = [float(x) for x in handle.read().split()]
check("B and C started after A ended", all(times[x][0] >= times["A"][1] for x in "BC"), True)
check("D started after B and C ended", times["D"][0] >= max(times["B"][1], times["C"][1]), True)

sys.exit(1 if FAILURES else 0)
