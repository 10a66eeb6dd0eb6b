"""flow.serialize(), flow.get_tasks(), tags, slugs, sorted_tasks and flow.copy()."""

import json
import sys

from headwater import Flow, Parameter, tags, task

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


@task(tags=["db"])
def extract(n):
    return list(range(n))


@task
def transform(x):
    return [v + 1 for v in x]


@task
def load(x):
    return len(x)


with Flow("tagged") as flow:
    n = Parameter("n", default=2)
    with tags("etl", "nightly"):
        e = extract(n)
        t = transform(e)
    t2 = transform(t)
    t3 = transform(t2)
    ld = load(t3)


check("decorator tags", e.tags, {"db", "etl", "nightly"})
check("context-manager tags", t.tags, {"etl", "nightly"})
check("no tags outside the block", t2.tags, set())
check("get_tasks by tag", set(flow.get_tasks(tags=["etl"])), {e, t})
check("get_tasks by two tags", flow.get_tasks(tags=["db", "etl"]), [e])
check("get_tasks by name", set(flow.get_tasks(name="transform")), {t, t2, t3})
check("get_tasks by type", flow.get_tasks(task_type=Parameter), [n])
check("get_tasks()", set(flow.get_tasks()), set(flow.tasks))

check("parameter slug is its name", n.slug, "n")
# generated slugs are <name>[-<sorted tags>]-<n>
check(
    "generated slugs",
    sorted([e.slug, t.slug, t2.slug, t3.slug, ld.slug]),
    [
        "extract-db-etl-nightly-1",
        "load-1",
        "transform-1",
        "transform-2",
        "transform-etl-nightly-1",
    ],
)
check("get_tasks by slug", flow.get_tasks(slug="transform-2"), [t3])
check("slugs unique", len({x.slug for x in flow.tasks}), len(flow.tasks))

order = list(flow.sorted_tasks())
check(
    "sorted_tasks order",
    order.index(e) < order.index(t) < order.index(t2) < order.index(t3) < order.index(ld),
    True,
)

s = flow.serialize()
check("serialize is JSON-able", isinstance(json.dumps(s), str), True)
check("serialized name", s["name"], "tagged")
check("serialized task slugs", {x["slug"] for x in s["tasks"]}, {x.slug for x in flow.tasks})
check("serialized parameters", [p["name"] for p in s["parameters"]], ["n"])
check("serialized edges", len(s["edges"]), len(flow.edges))

copy = flow.copy()
check("copy keeps the tasks", copy.tasks, flow.tasks)
check("copy is another flow", copy is not flow, True)
state = flow.run()
check("flow runs", state.result[ld].result, 2)

sys.exit(1 if FAILURES else 0)
