"""Triggers: all_finished, always_run, any_failed, all_failed, any_successful."""

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

if __name__ == "__main__":
    state = flow.run()
    check("flow failed", state.is_failed(), True)
    check("all_finished", state.result[c].result, "cleaned")
    check("always_run", state.result[al].result, "always")
    check("any_failed", state.result[d].result, "alerted")
    check("all_failed", state.result[e].result, "all bad")
    check("any_successful", state.result[f].result, "some good")
    check("all_successful with a failure", type(state.result[g]).__name__, "TriggerFailed")
    check("TriggerFailed is failed", state.result[g].is_failed(), True)
    check(
        "TriggerFailed message names the trigger", "all_successful" in state.result[g].message, True
    )
    check("any_failed without failures", type(state.result[h]).__name__, "TriggerFailed")
    check("all_failed with a success", type(state.result[i]).__name__, "TriggerFailed")

    sys.exit(1 if FAILURES else 0)
