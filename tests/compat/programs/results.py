"""Results: checkpointing via config, LocalResult templates, checkpoint=False, targets."""

import os
import tempfile

os.environ["HEADWATER__FLOWS__CHECKPOINTING"] = "true"

import json
import sys
from datetime import UTC, datetime

from headwater import Flow, task
from headwater.engine.results import HeadwaterResult, LocalResult
from headwater.engine.serializers import JSONSerializer
from headwater.engine.state import Cached

FAILURES = []


def check(label, actual, expected):
    ok = actual == expected
    print(
        ("ok   " if ok else "FAIL ") + f"{label}: {actual!r}" + ("" if ok else f" != {expected!r}")
    )
    if not ok:
        FAILURES.append(label)


RESULT_DIR = tempfile.mkdtemp()
FLOW_RESULT_DIR = os.path.join(RESULT_DIR, "flow-level")
CALLS = []


@task(result=LocalResult(dir=RESULT_DIR, location="{task_name}-{today}.pkl"))
def produce():
    return {"a": 1}


@task(checkpoint=False, result=LocalResult(dir=RESULT_DIR, location="never.pkl"))
def secret():
    return "not written"


@task(result=LocalResult(dir=RESULT_DIR, location="square/{map_index}.pkl"))
def square(x):
    return x * x


@task(result=LocalResult(dir=RESULT_DIR, location="summary.json", serializer=JSONSerializer()))
def summary():
    return {"rows": 3}


@task
def uses_flow_result():
    return "flow-level"


@task(result=LocalResult(dir=RESULT_DIR, location="{date:%Y}/{task_name}.pkl"))
def yearly():
    return "y"


@task(result=LocalResult(dir=RESULT_DIR, location="full/{task_full_name}.pkl"))
def cube(x):
    return x**3


@task(
    target=lambda **kwargs: f"{kwargs['task_name']}-callable.target",
    checkpoint=True,
    result=LocalResult(dir=RESULT_DIR),
)
def callable_target():
    return "t"


@task(target="{task_name}.target", checkpoint=True, result=LocalResult(dir=RESULT_DIR))
def expensive():
    CALLS.append(1)
    return 7


with Flow("results", result=LocalResult(dir=FLOW_RESULT_DIR)) as flow:
    p = produce()
    s = secret()
    sq = square.map([1, 2, 3])
    fl = uses_flow_result()
    sm = summary()
    ex = expensive()
    cu = cube.map([1, 2])
    yl = yearly()
    ct = callable_target()


today = datetime.now(UTC).strftime("%Y-%m-%d")
state = flow.run()
check("flow succeeded", state.is_successful(), True)
produced = os.path.join(RESULT_DIR, f"produce-{today}.pkl")
check("templated location written", os.path.exists(produced), True)
location = state.result[p]._result.location
check("state's result location", os.path.join(RESULT_DIR, location), produced)
check("read back", LocalResult(dir=RESULT_DIR).read(location).value, {"a": 1})
check(
    "checkpoint=False writes nothing",
    os.path.exists(os.path.join(RESULT_DIR, "never.pkl")),
    False,
)
check("checkpoint=False still returns", state.result[s].result, "not written")
check(
    "map_index template",
    sorted(os.listdir(os.path.join(RESULT_DIR, "square"))),
    ["0.pkl", "1.pkl", "2.pkl"],
)
with open(os.path.join(RESULT_DIR, "summary.json")) as handle:
    check("JSONSerializer writes JSON", json.load(handle), {"rows": 3})
check("flow-level result used", len(os.listdir(FLOW_RESULT_DIR)) >= 1, True)
check(
    "task_full_name template",
    sorted(os.listdir(os.path.join(RESULT_DIR, "full"))),
    ["cube[0].pkl", "cube[1].pkl"],
)
check(
    "callable target",
    os.path.exists(os.path.join(RESULT_DIR, "callable_target-callable.target")),
    True,
)
check("target written", os.path.exists(os.path.join(RESULT_DIR, "expensive.target")), True)
check("LocalResult.exists", LocalResult(dir=RESULT_DIR).exists("expensive.target"), True)
check("LocalResult.exists missing", LocalResult(dir=RESULT_DIR).exists("missing.pkl"), False)

state = flow.run()
check("target hit gives Cached", isinstance(state.result[ex], Cached), True)
check("target hit value", state.result[ex].result, 7)
check("target hit did not rerun", len(CALLS), 1)

written = HeadwaterResult().write({"k": [1, 2]})
check("HeadwaterResult location is JSON", json.loads(written.location), {"k": [1, 2]})
check("HeadwaterResult read", HeadwaterResult().read(written.location).value, {"k": [1, 2]})

local = LocalResult(dir=RESULT_DIR, location="manual.pkl").write([1, 2, 3])
check("LocalResult.write value", local.value, [1, 2, 3])
check("LocalResult.write file", os.path.exists(os.path.join(RESULT_DIR, "manual.pkl")), True)

sys.exit(1 if FAILURES else 0)
