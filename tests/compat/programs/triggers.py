"""Triggers (all_finished, always_run, any_failed, all_failed, any_successful) and reference tasks."""

import sys

from headwater import Flow, task, triggers

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task
def ok_task():
    return 1


@task
def boom():
    raise ValueError("boom")


@task(trigger=triggers.all_finished)
def cleanup():
    return "cleaned"


@task(trigger=triggers.always_run)
def always():
    return "always"


@task(trigger=triggers.any_failed)
def alert():
    return "alerted"


@task(trigger=triggers.all_failed)
def all_bad():
    return "all bad"


@task(trigger=triggers.any_successful)
def some_good():
    return "some good"


@task
def normal():
    return "normal"


@task(trigger=triggers.some_successful(at_least=1, at_most=1))
def exactly_one_good():
    return "exactly one"


@task(trigger=triggers.some_failed(at_least=2))
def two_failures():
    return "two failed"


with Flow("triggers") as flow:
    a = ok_task()
    b = boom()
    c = cleanup(upstream_tasks=[a, b])
    al = always(upstream_tasks=[b])
    d = alert(upstream_tasks=[a, b])
    e = all_bad(upstream_tasks=[b])
    f = some_good(upstream_tasks=[a, b])
    g = normal(upstream_tasks=[a, b])
    h = alert(upstream_tasks=[a])
    i = all_bad(upstream_tasks=[a, b])
    j = exactly_one_good(upstream_tasks=[a, b])
    k = two_failures(upstream_tasks=[a, b])


@task
def start():
    return 1


@task
def optional_step(x):
    raise ValueError("optional step broke")


@task
def important_step(x):
    return x + 1


with Flow("reference") as ref_flow:
    r_start = start()
    r_optional = optional_step(r_start)
    r_important = important_step(r_start)

with Flow("cleanup-only-terminal") as cleanup_flow:
    x = start()
    y = optional_step(x)
    z = cleanup(upstream_tasks=[y])


state = flow.run()
check("flow failed", state.is_failed(), True)
check("all_finished", state.result[c].result, "cleaned")
check("always_run", state.result[al].result, "always")
check("any_failed", state.result[d].result, "alerted")
check("all_failed", state.result[e].result, "all bad")
check("any_successful", state.result[f].result, "some good")
check("all_successful with a failure", type(state.result[g]).__name__, "TriggerFailed")
check("TriggerFailed is failed", state.result[g].is_failed(), True)
check("TriggerFailed message names the trigger", "all_successful" in state.result[g].message, True)
check("any_failed without failures", type(state.result[h]).__name__, "TriggerFailed")
check("all_failed with a success", type(state.result[i]).__name__, "TriggerFailed")
check("some_successful(at_least=1, at_most=1)", state.result[j].result, "exactly one")
check("some_failed(at_least=2) with one failure", type(state.result[k]).__name__, "TriggerFailed")

check(
    "default reference tasks are terminal",
    ref_flow.reference_tasks(),
    {r_optional, r_important},
)
check("terminal tasks", ref_flow.terminal_tasks(), {r_optional, r_important})
check("root tasks", ref_flow.root_tasks(), {r_start})
check("default: failure fails the flow", ref_flow.run().is_failed(), True)

ref_flow.set_reference_tasks([r_important])
check("reference tasks set", ref_flow.reference_tasks(), {r_important})
state = ref_flow.run()
check("flow succeeds on its reference task", state.is_successful(), True)
check("non-reference task still failed", state.result[r_optional].is_failed(), True)

state = cleanup_flow.run()
check("all_finished terminal task makes the flow succeed", state.is_successful(), True)
cleanup_flow.set_reference_tasks([y])
check("with the real work as reference", cleanup_flow.run().is_failed(), True)

sys.exit(1 if FAILURES else 0)
