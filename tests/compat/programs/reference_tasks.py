"""Reference tasks decide the flow's final state; terminal and root tasks."""

import sys

from headwater import Flow, task
from headwater.triggers import all_finished

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def start():
    return 1


@task
def optional_step(x):
    raise ValueError("optional step broke")


@task
def important_step(x):
    return x + 1


@task(trigger=all_finished)
def cleanup():
    return "cleaned"


with Flow("reference") as flow:
    a = start()
    b = optional_step(a)
    c = important_step(a)

with Flow("cleanup-only-terminal") as flow2:
    x = start()
    y = optional_step(x)
    z = cleanup(upstream_tasks=[y])


if __name__ == "__main__":
    check("default reference tasks are terminal", flow.reference_tasks(), {b, c})
    check("terminal tasks", flow.terminal_tasks(), {b, c})
    check("root tasks", flow.root_tasks(), {a})
    check("default: failure fails the flow", flow.run().is_failed(), True)

    flow.set_reference_tasks([c])
    check("reference tasks set", flow.reference_tasks(), {c})
    state = flow.run()
    check("flow succeeds on its reference task", state.is_successful(), True)
    check("non-reference task still failed", state.result[b].is_failed(), True)

    state = flow2.run()
    check("all_finished terminal task makes the flow succeed", state.is_successful(), True)
    flow2.set_reference_tasks([y])
    check("with the real work as reference", flow2.run().is_failed(), True)

    sys.exit(1 if FAILURES else 0)
