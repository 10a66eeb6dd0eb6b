"""Flow-level callbacks: on_failure and terminal_state_handler; task on_failure."""

import sys

from headwater import Flow, task
from headwater.engine.state import Success

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


CALLS = []


def flow_failed(flow, state):
    CALLS.append(("flow on_failure", flow.name, type(state).__name__))


def task_failed(task, state):
    CALLS.append(("task on_failure", task.name, type(state).__name__))


def tolerate_optional(flow, state, reference_task_states):
    # The run succeeds when only the optional export failed.
    failed = [s for s in reference_task_states if s.is_failed()]
    if state.is_failed() and all("optional" in (s.message or "") for s in failed):
        return Success("only optional steps failed")
    return None


@task(on_failure=task_failed)
def export(kind):
    raise ValueError(f"{kind} export broke")


@task
def report():
    return "done"


with Flow("callbacks", on_failure=flow_failed) as flow:
    export("main")

with Flow("terminal-handler", terminal_state_handler=tolerate_optional) as tolerant:
    report()
    optional = export("optional")


state = flow.run()
check("flow failed", state.is_failed(), True)
check(
    "callbacks",
    CALLS,
    [("task on_failure", "export", "Failed"), ("flow on_failure", "callbacks", "Failed")],
)

state = tolerant.run()
check("terminal_state_handler replaced the final state", state.is_successful(), True)
check("its message", state.message, "only optional steps failed")
check("the task still failed", state.result[optional].is_failed(), True)

sys.exit(1 if FAILURES else 0)
