# Ported from Prefect 1: examples/old/map_reduce.py
# (PrefectHQ/prefect at 1.4.1); only `prefect` renamed to `headwater`.
from headwater import Flow, task

# ------------------------------------
# define some tasks


@task
def numbers_task():
    return [1, 2, 3]


@task
def map_task(x):
    return x + 1


@task
def reduce_task(x):
    return sum(x)


# ------------------------------------
# build a flow

with Flow("Map / Reduce 🤓") as flow:
    numbers = numbers_task()
    first_map = map_task.map(numbers)
    second_map = map_task.map(first_map)
    reduction = reduce_task(second_map)


# ------------------------------------
# run the flow

state = flow.run()
assert state.result[reduction].result == 12

# --- checks (not in the source) ---
from _checks import check, finish  # noqa: E402

check("reduction", state.result[reduction].result, 12)
check("mapped children", [s.result for s in state.result[second_map].map_states], [3, 4, 5])
finish()
