"""Flows generated in a loop, one per table, registered and run by the agent.

Needs a server and an agent (HEADWATER_API_URL).
"""

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


PROJECT = "compat-generated"
TABLES = ["users", "orders"]


@task
def load_table(table):
    return f"loaded {table}"


FLOWS = {}
for table in TABLES:
    with Flow(f"compat-load-{table}") as flow:
        load_table(table)
    FLOWS[table] = flow


client = Client()
client.create_project(project_name=PROJECT)
run_ids = {}
for table, flow in FLOWS.items():
    flow_id = flow.register(project_name=PROJECT)
    run_ids[table] = client.create_flow_run(flow_id=flow_id)
for table, run_id in run_ids.items():
    view = FlowRunView.from_flow_run_id(run_id)
    deadline = time.monotonic() + 60
    while not view.state.is_finished() and time.monotonic() < deadline:
        time.sleep(0.2)
        view = view.get_latest()
    check(f"{table} run succeeded", view.state.is_successful(), True)
    if not view.state.is_successful():
        print(f"     {view.state!r}")

sys.exit(1 if FAILURES else 0)
