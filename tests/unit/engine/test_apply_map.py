"""apply_map: a task-building function mapped across its inputs."""

from __future__ import annotations

import pytest

from headwater import Flow, case, merge, task, unmapped
from headwater.utilities.tasks import apply_map


@task
def inc(x: int) -> int:
    return x + 1


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def is_even(x: int) -> bool:
    return x % 2 == 0


@task
def label(x: int, text: str) -> str:
    return f"{text}-{x}"


def test_every_task_the_function_adds_runs_once_per_element() -> None:
    def pipeline(x: object, offset: object) -> object:
        return add(inc(x), offset)

    with Flow("apply") as flow:
        out = apply_map(pipeline, [1, 2, 3], unmapped(inc(9)))
    state = flow.run()
    assert state.result[out].result == [12, 13, 14]
    assert not any(type(t).__name__ == "_MapInput" for t in flow.tasks)


def test_case_inside_apply_map_branches_per_element() -> None:
    def branch(x: object) -> object:
        cond = is_even(x)
        with case(cond, True):
            even = label(x, "even")
        with case(cond, False):
            odd = label(x, "odd")
        return merge(even, odd)

    with Flow("branches") as flow:
        out = apply_map(branch, [1, 2, 3])
    assert flow.run().result[out].result == ["odd-1", "even-2", "odd-3"]


def test_apply_map_needs_a_flow() -> None:
    with pytest.raises(ValueError, match=r"apply_map\(\) needs a flow"):
        apply_map(lambda x: inc(x), [1])
