"""Control flow: case blocks, merge, ifelse and switch, with skips propagating."""

from __future__ import annotations

from typing import Any

import pytest

from headwater import Flow, Parameter, case, merge, task
from headwater.tasks.control_flow import ifelse, switch


@task
def ident(x: Any) -> Any:
    return x


@task
def label(x: str) -> str:
    return f"label-{x}"


def _branchy() -> tuple[Flow, dict[str, Any]]:
    with Flow("branches") as flow:
        cond = ident(Parameter("which", default="a"))
        with case(cond, "a"):
            a = label("a")
            a2 = ident(a)
        with case(cond, "b"):
            b = label("b")
        joined = merge(a2, b)
        after = ident(b)
    return flow, {"a": a, "a2": a2, "b": b, "joined": joined, "after": after}


def test_case_runs_the_matching_branch_and_skips_the_other() -> None:
    flow, t = _branchy()
    state = flow.run(which="a")
    assert state.result[t["a"]].result == "label-a"
    assert state.result[t["a2"]].result == "label-a"
    assert state.result[t["b"]].is_skipped()
    assert state.result[t["after"]].is_skipped()  # skips propagate downstream
    assert state.result[t["joined"]].result == "label-a"
    assert state.is_successful()
    other = flow.run(which="b")
    assert other.result[t["a"]].is_skipped() and other.result[t["a2"]].is_skipped()
    assert other.result[t["joined"]].result == "label-b"


def test_merge_skips_when_every_branch_skipped() -> None:
    flow, t = _branchy()
    state = flow.run(which="neither")
    assert state.result[t["joined"]].is_skipped()


def test_only_block_roots_get_the_guard() -> None:
    flow, t = _branchy()
    guards = {e.upstream_task.name for e in flow.edges_to(t["a"])}
    assert guards == {"case('a')"}
    assert {e.upstream_task for e in flow.edges_to(t["a2"])} == {t["a"]}


def test_nested_cases() -> None:
    with Flow("nested") as flow:
        x = ident(1)
        y = ident(2)
        with case(x, 1):
            with case(y, 2):
                both = label("both")
            with case(y, 3):
                never = label("never")
    state = flow.run()
    assert state.result[both].result == "label-both"
    assert state.result[never].is_skipped()


def test_empty_case_adds_nothing_and_case_needs_a_flow() -> None:
    with Flow("empty") as flow:
        x = ident(1)
        with case(x, 1):
            pass
    assert flow.tasks == {x}
    with pytest.raises(ValueError, match=r"inside a `with Flow"), case(ident, 1):
        pass


def test_ifelse_and_switch() -> None:
    with Flow("ifelse") as flow:
        yes = label("yes")
        no = label("no")
        ifelse(ident(0), yes, no)
        one = label("one")
        two = label("two")
        switch(ident(2), {1: one, 2: two})
    state = flow.run()
    assert state.result[yes].is_skipped() and state.result[no].result == "label-no"
    assert state.result[one].is_skipped() and state.result[two].result == "label-two"
    with pytest.raises(ValueError, match=r"inside a `with Flow"):
        switch(1, {})


def test_skip_on_upstream_skip_false_runs_after_a_skip() -> None:
    with Flow("noskip") as flow:
        x = ident(1)
        with case(x, 2):
            skipped = label("s")
        runs = ident.copy(skip_on_upstream_skip=False)(skipped)
    state = flow.run()
    assert state.result[skipped].is_skipped()
    assert state.result[runs].is_successful()


def test_mapped_merge_and_switch() -> None:
    with Flow("mapped-branches") as flow:
        values = ident([1, 0, 1])
        yes = ident.map(values)
        no = ident.map(values)
        ifelse(values, yes, no, mapped=True)
        m = merge(yes, no, mapped=True)
    state = flow.run()
    assert [type(s).__name__ for s in state.result[yes].map_states] == [
        "Success",
        "Skipped",
        "Success",
    ]
    assert state.result[m].result == [1, 0, 1]


def test_filter_task_drops_failed_and_skipped_children() -> None:
    from headwater.engine import signals
    from headwater.tasks.control_flow import FilterTask

    @task
    def risky(x: int) -> int | None:
        if x == 2:
            raise ValueError("bad")
        if x == 3:
            raise signals.SKIP("skip")
        return None if x == 5 else x

    logged: list[list[Any]] = []

    def log_kept(kept: list[Any]) -> str:
        logged.append(kept)
        return f"kept {len(kept)}"

    with Flow("filter") as flow:
        results = risky.map([1, 2, 3, 4, 5])
        good = FilterTask(log_func=log_kept)(results)
        big = FilterTask(filter_func=lambda v: v > 1)(good)
    state = flow.run()
    assert state.is_successful()
    assert state.result[good].result == [1, 4] and state.result[big].result == [4]
    assert logged == [[1, 4]]
