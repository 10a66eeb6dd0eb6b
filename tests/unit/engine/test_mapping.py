"""Mapping: children per element, unmapped and flattened inputs, maps of maps, reduces."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from headwater import Flow, Parameter, context, flatten, mapped, task, unmapped
from headwater.engine import signals
from headwater.engine.state import Mapped, Skipped, Success


@task
def inc(x: int) -> int:
    return x + 1


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def nums(n: int = 3) -> list[int]:
    return list(range(n))


def test_map_over_a_list_gives_a_mapped_parent_with_children() -> None:
    with Flow("map") as flow:
        m = inc.map([1, 2, 3])
    state = flow.run()
    parent = state.result[m]
    assert isinstance(parent, Mapped)
    assert parent.result == [2, 3, 4]
    assert [type(s) for s in parent.map_states] == [Success] * 3
    assert parent.n_map_states == 3


def test_unmapped_inputs_go_whole_to_every_child() -> None:
    with Flow("unmapped") as flow:
        m = add.map(x=[1, 2], y=unmapped(10))
        m2 = add.map([1, 2], unmapped(nums()))
    state = flow.run()
    assert state.result[m].result == [11, 12]
    # int + list is a TypeError in each child; the parent itself is Mapped
    assert state.result[m2].is_mapped() and state.is_failed()
    assert all(s.is_failed() for s in state.result[m2].map_states)


def test_map_of_a_map_and_a_reduce() -> None:
    with Flow("chain") as flow:
        first = inc.map(nums(4))
        second = inc.map(first)
        summed = total(second)
    state = flow.run()
    assert state.result[second].result == [2, 3, 4, 5]
    assert state.result[summed].result == 14


def test_mapping_zips_inputs_to_the_shortest() -> None:
    with Flow("zip") as flow:
        m = add.map([1, 2, 3], [10, 20])
    assert flow.run().result[m].result == [11, 22]


def test_flatten_maps_over_the_elements_of_nested_lists() -> None:
    @task
    def nested() -> list[list[int]]:
        return [[1, 2], [3]]

    @task
    def split(x: int) -> list[int]:
        return [x, x * 10]

    with Flow("flatten") as flow:
        flat_children = inc.map(flatten(nested()))
        whole = total(flatten(nested()))
        of_map = inc.map(flatten(split.map([1, 2])))
    state = flow.run()
    assert state.result[flat_children].result == [2, 3, 4]
    assert state.result[whole].result == 6
    assert state.result[of_map].result == [2, 11, 3, 21]


def test_mapped_annotation_maps_a_called_task() -> None:
    with Flow("annot") as flow:
        m = add(mapped([1, 2]), 5)
    assert flow.run().result[m].result == [6, 7]


def test_mapping_over_an_empty_list_gives_no_children() -> None:
    with Flow("empty") as flow:
        m = inc.map([])
        after = total(m)
    state = flow.run()
    assert isinstance(state.result[m], Mapped) and state.result[m].map_states == []
    assert state.result[m].result == [] and state.result[after].result == 0
    assert state.is_successful()


def test_mapping_over_a_non_iterable_fails_naming_the_task_and_input() -> None:
    @task
    def scalar() -> int:
        return 5

    with Flow("bad") as flow:
        m = inc.map(scalar())
    state = flow.run()
    assert state.is_failed()
    message = state.result[m].message or ""
    assert "Task 'inc' cannot map over input 'x'" in message and "int" in message


def test_mapping_over_a_string_or_dict_is_refused() -> None:
    with Flow("bad") as flow:
        s = inc.map("abc")
        d = inc.map({"a": 1})
    state = flow.run()
    assert "a str is not a list" in (state.result[s].message or "")
    assert "a dict is not a list" in (state.result[d].message or "")


def test_other_iterables_are_mapped_as_lists() -> None:
    with Flow("range") as flow:
        m = inc.map(range(3))
    assert flow.run().result[m].result == [1, 2, 3]


def test_children_see_their_map_index() -> None:
    @task
    def where(x: int) -> tuple[Any, Any, Any]:
        return (context.map_index, context.task_full_name, context.task_run_id)

    with Flow("index") as flow:
        m = where.map([5, 6])
    got = flow.run().result[m].result
    assert [g[:2] for g in got] == [(0, "where[0]"), (1, "where[1]")]
    assert got[0][2] != got[1][2]


def test_failed_children_fail_the_flow_and_skip_per_child() -> None:
    @task
    def picky(x: int) -> int:
        if x == 2:
            raise ValueError("two")
        if x == 3:
            raise signals.SKIP("three")
        return x

    with Flow("children") as flow:
        first = picky.map([1, 2, 3])
        second = inc.map(first)
    state = flow.run()
    kinds = [type(s).__name__ for s in state.result[second].map_states]
    assert kinds == ["Success", "TriggerFailed", "Skipped"]
    assert state.is_failed()


def test_mapped_children_retry_individually() -> None:
    attempts: dict[int, int] = {}

    @task(max_retries=1, retry_delay=datetime.timedelta(milliseconds=20))
    def flaky(x: int) -> int:
        attempts[x] = attempts.get(x, 0) + 1
        if x == 1 and attempts[x] == 1:
            raise ValueError("once")
        return x

    with Flow("mapped-retries") as flow:
        m = flaky.map([0, 1, 2])
        after = total(m)
    state = flow.run()
    assert state.result[m].result == [0, 1, 2] and state.result[after].result == 3
    assert attempts == {0: 1, 1: 2, 2: 1}


def test_a_skipped_upstream_skips_the_mapped_parent() -> None:
    @task
    def skipper() -> list[int]:
        raise signals.SKIP("no")

    with Flow("skip") as flow:
        m = inc.map(skipper())
    assert isinstance(flow.run().result[m], Skipped)


def test_map_with_parameter_and_upstream_tasks() -> None:
    order: list[str] = []

    @task
    def first() -> None:
        order.append("first")

    @task
    def child(x: int) -> int:
        order.append("child")
        return x

    with Flow("params") as flow:
        f = first()
        m = child.map(Parameter("xs", default=[1, 2]), upstream_tasks=[unmapped(f)])
    state = flow.run(xs=[4, 5, 6])
    assert state.result[m].result == [4, 5, 6]
    assert order == ["first", "child", "child", "child"]


def test_map_needs_a_flow() -> None:
    with pytest.raises(ValueError, match=r"active Flow context"):
        inc.map([1])


def test_a_reduce_checks_its_trigger_against_the_mapped_children() -> None:
    from headwater import triggers

    @task
    def inverse(x: int) -> float:
        return 1 / x

    with Flow("reduce") as flow:
        inverses = inverse.map([1, 0, 4])
        strict = total(inverses)
        counting = total.copy(trigger=triggers.some_failed(at_least=1, at_most=1))(inverses)
    state = flow.run()
    assert type(state.result[strict]).__name__ == "TriggerFailed"
    # one of the three children failed, so the counting trigger passes, and the reduce then
    # fails on the failed child's exception in its input
    assert type(state.result[counting]).__name__ == "Failed"


def test_mapping_over_a_failed_upstream_is_trigger_failed() -> None:
    @task
    def broken() -> list[int]:
        raise RuntimeError("no list")

    with Flow("failed-upstream") as flow:
        m = inc.map(broken())
    state = flow.run()
    assert type(state.result[m]).__name__ == "TriggerFailed"
