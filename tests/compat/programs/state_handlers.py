"""State handlers on tasks and flows: observe, replace and ignore state changes."""

import sys
from datetime import timedelta

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


TASK_CHANGES = {}
FLOW_CHANGES = []
NOTIFIED = []


def record(task, old_state, new_state):
    TASK_CHANGES.setdefault(task.name, []).append(
        (type(old_state).__name__, type(new_state).__name__)
    )
    return new_state


def flow_record(flow, old_state, new_state):
    FLOW_CHANGES.append((flow.name, type(new_state).__name__))
    return new_state


def notify_on_failure(task, old_state, new_state):
    # returns nothing: the state is kept
    if new_state.is_failed():
        NOTIFIED.append(task.name)


def swallow_failure(task, old_state, new_state):
    if new_state.is_failed():
        return Success(message="failure swallowed", result="fallback")
    return new_state


FLAKY = []


@task(state_handlers=[record])
def plain():
    return 1


@task(state_handlers=[record], max_retries=1, retry_delay=timedelta(seconds=0))
def flaky():
    FLAKY.append(1)
    if len(FLAKY) == 1:
        raise ValueError("first attempt fails")
    return 2


@task(state_handlers=[swallow_failure])
def broken():
    raise ValueError("broken")


@task
def after(x):
    return f"got {x}"


@task(state_handlers=[notify_on_failure, record])
def noisy():
    raise RuntimeError("noisy")


with Flow("handlers", state_handlers=[flow_record]) as flow:
    p = plain()
    fl = flaky()
    b = broken()
    a = after(b)

with Flow("notify") as notify_flow:
    n = noisy()


state = flow.run()
check("flow succeeded", state.is_successful(), True)
check("plain transitions", TASK_CHANGES["plain"], [("Pending", "Running"), ("Running", "Success")])
check(
    "retry transitions",
    [new for _, new in TASK_CHANGES["flaky"]],
    ["Running", "Failed", "Retrying", "Running", "Success"],
)
check("handler replaced Failed", state.result[b].is_successful(), True)
check("replacement message", state.result[b].message, "failure swallowed")
check("downstream saw the replacement result", state.result[a].result, "got fallback")
check("flow handler got the flow", {name for name, _ in FLOW_CHANGES}, {"handlers"})
check("flow ends Running -> Success", [s for _, s in FLOW_CHANGES][-2:], ["Running", "Success"])

state = notify_flow.run()
check("handler returning None keeps the state", state.result[n].is_failed(), True)
check("notification sent", NOTIFIED, ["noisy"])
check("second handler saw Failed", TASK_CHANGES["noisy"][-1], ("Running", "Failed"))

sys.exit(1 if FAILURES else 0)
