"""Tasks: options, copying, binding into flows, operators and the ``@task`` decorator."""

from __future__ import annotations

import datetime
from typing import Any, Tuple  # noqa: UP035 - the Prefect 1 era spelling must work too

import pytest

from headwater import Flow, Task, tags, task, triggers
from headwater.tasks.core.function import FunctionTask
from headwater.utilities.tasks import as_task, defaults_from_attrs


class AddTask(Task):
    def run(self, x: int, y: int = 1) -> int:
        return x + y


@task
def add(x: int, y: int) -> int:
    return x + y


def test_subclass_defaults_and_direct_run() -> None:
    t = AddTask()
    assert t.name == "AddTask"
    assert repr(t) == "<Task: AddTask>"
    assert t.run(1, 2) == 3
    assert t.max_retries == 0 and t.retry_delay is None and t.timeout is None
    assert t.trigger is triggers.all_successful
    assert t.skip_on_upstream_skip is True
    assert t.inputs() == {
        "x": {"required": True, "type": int},
        "y": {"required": False, "type": int},
    }
    assert t.outputs() is int


def test_task_decorator_bare_and_with_options() -> None:
    assert isinstance(add, FunctionTask)
    assert add.name == "add" and add.run(1, 2) == 3

    @task(name="named", max_retries=2, retry_delay=datetime.timedelta(seconds=1), tags=["t"])
    def f() -> int:
        return 1

    assert f.name == "named" and f.max_retries == 2 and f.tags == {"t"}
    assert f.__doc__ is None and f.run() == 1


def test_retries_need_a_retry_delay() -> None:
    with pytest.raises(ValueError, match=r"'flaky'.*retry_delay"):
        Task(name="flaky", max_retries=1)
    with pytest.raises(TypeError, match=r"retry_delay must be a datetime.timedelta"):
        Task(name="x", max_retries=1, retry_delay=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_retries must be >= 0"):
        Task(name="x", max_retries=-1)


def test_timeout_accepts_seconds_and_timedelta_and_rejects_nonsense() -> None:
    assert Task(timeout=3).timeout == 3
    assert Task(timeout=datetime.timedelta(seconds=2)).timeout == 2
    assert Task(timeout=0.5).timeout == 0.5
    with pytest.raises(ValueError, match=r"'slow': timeout must be positive"):
        Task(name="slow", timeout=0)
    with pytest.raises(TypeError, match=r"timeout must be seconds"):
        Task(timeout="10")  # type: ignore[arg-type]


def test_other_bad_options_name_the_task() -> None:
    with pytest.raises(TypeError, match=r"'t': tags must be a collection"):
        Task(name="t", tags="abc")
    with pytest.raises(TypeError, match=r"'t': trigger must be callable"):
        Task(name="t", trigger=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"'t': nout"):
        Task(name="t", nout=-1)
    with pytest.raises(TypeError, match=r"not callable"):
        Task(name="t", state_handlers=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"FunctionTask needs a callable"):
        FunctionTask(3)  # type: ignore[arg-type]


def test_run_signatures_with_reserved_names_or_varargs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"reserved argument name 'mapped'"):

        class Bad(Task):
            def run(self, mapped: int) -> None:  # type: ignore[override]
                pass

    with pytest.raises(ValueError, match=r"variable positional"):

        @task
        def star(*xs: int) -> None:
            pass


def test_copy_replaces_options_and_keeps_the_original() -> None:
    t = AddTask(name="a", tags=["x"])
    c = t.copy(name="b", tags=["y"], timeout=datetime.timedelta(seconds=4))
    assert c is not t and c.name == "b" and c.tags == {"x", "y"} and c.timeout == 4
    assert t.name == "a" and t.tags == {"x"}
    with pytest.raises(AttributeError, match=r"does not have 'nope'"):
        t.copy(nope=1)
    with pytest.raises(ValueError, match=r"retry_delay"):
        t.copy(max_retries=3)
    explicit = AddTask(slug="mine")
    assert explicit.copy().slug == "mine-copy"


def test_calling_inside_a_flow_binds_a_copy_with_keyword_edges() -> None:
    with Flow("f") as flow:
        a = add(1, 2)
        b = add(a, y=a)
    assert a is not add and b is not add
    assert flow.constants[a] == {"x": 1, "y": 2}
    assert {(e.upstream_task, e.key) for e in flow.edges_to(b)} == {(a, "x"), (a, "y")}
    assert add not in flow.tasks


def test_calling_outside_a_flow_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"active Flow context.*'add'.*run"):
        add(1, 2)


def test_missing_or_unknown_arguments_name_the_task() -> None:
    with Flow("f"):
        with pytest.raises(TypeError, match=r"Task 'add' could not bind its inputs: missing"):
            add(1)
        with pytest.raises(TypeError, match=r"Task 'add' could not bind.*'z'"):
            add(1, 2, z=3)


def test_task_args_and_upstream_tasks() -> None:
    with Flow("f") as flow:
        first = add(1, 2, task_args={"name": "first", "tags": ["a"]})
        second = add(3, 4, upstream_tasks=[first])
    assert first.name == "first" and first.tags == {"a"}
    assert flow.upstream_tasks(second) == {first}
    assert next(iter(flow.edges_to(second))).key is None


def test_bind_set_upstream_and_set_downstream() -> None:
    flow = Flow("f")
    a, b, c = AddTask(name="a"), AddTask(name="b"), AddTask(name="c")
    b.bind(x=a, flow=flow)
    c.set_upstream(b, flow=flow, key="x")
    a.set_downstream(c, flow=flow)
    assert flow.upstream_tasks(c) == {a, b}
    with pytest.raises(ValueError, match=r"No Flow was passed"):
        a.set_upstream(b)


def test_nout_unpacks_into_getitem_tasks() -> None:
    @task(nout=2)
    def pair() -> tuple[int, int]:
        return 1, 2

    with Flow("f") as flow:
        one, two = pair()
    state = flow.run()
    assert state.result[one].result == 1 and state.result[two].result == 2
    with Flow("g"), pytest.raises(TypeError, match=r"'add' is not iterable.*nout"):
        tuple(add(1, 2))


def test_operators_build_tasks() -> None:
    @task
    def num(x: Any) -> Any:
        return x

    with Flow("ops") as flow:
        a = num(6)
        b = num(3)
        results = {
            "add": a + b,
            "radd": 1 + a,
            "sub": a - b,
            "rsub": 10 - a,
            "mul": a * b,
            "div": a / b,
            "floordiv": a // 4,
            "mod": a % 4,
            "pow": a**2,
            "gt": a > b,
            "lt": a < b,
            "ge": a >= 6,
            "le": a <= 5,
            "and": a & 0,
            "or": a.or_(0),
            "eq": a.is_equal(6),
            "ne": a.is_not_equal(6),
            "not": a.not_(),
            "item": num([1, 2, 3])[1],
        }
    state = flow.run()
    got = {k: state.result[t].result for k, t in results.items()}
    assert got == {
        "add": 9, "radd": 7, "sub": 3, "rsub": 4, "mul": 18, "div": 2.0, "floordiv": 1,
        "mod": 2, "pow": 36, "gt": True, "lt": False, "ge": True, "le": False, "and": 0,
        "or": 6, "eq": True, "ne": False, "not": False, "item": 2,
    }  # fmt: skip


def test_tags_context_manager_tags_created_and_bound_tasks() -> None:
    with tags("outer"):
        t = Task(name="t")
        with Flow("f") as flow, tags("inner"):
            bound = add(1, 2)
    assert t.tags == {"outer"}
    assert bound.tags == {"outer", "inner"}
    assert bound.slug == "add-inner-outer-1"
    assert flow.slugs[bound] == bound.slug


def test_defaults_from_attrs_fills_only_missing_keywords() -> None:
    class Greeter(Task):
        def __init__(self, greeting: str = "hi", **kwargs: Any) -> None:
            self.greeting = greeting
            super().__init__(**kwargs)

        @defaults_from_attrs("greeting")
        def run(self, greeting: str | None = None) -> str | None:
            return greeting

    g = Greeter(greeting="hello")
    assert g.run() == "hello"
    assert g.run(greeting="yo") == "yo"
    assert g.run(greeting=None) is None  # an explicit None wins, as in Prefect 1


def test_as_task_wraps_values_and_collections() -> None:
    from headwater.tasks.core.constants import Constant

    t = Task()
    assert as_task(t) is t
    const = as_task([1, 2])
    assert isinstance(const, Constant) and const.run() == [1, 2]
    with Flow("f") as flow:
        a = add(1, 2)
        lst = as_task([a, 5])
        tup = as_task((a,))
        st = as_task({a})
        dct = as_task({"k": a})
    state = flow.run()
    assert state.result[lst].result == [3, 5]
    assert state.result[tup].result == (3,)
    assert state.result[st].result == {3}
    assert state.result[dct].result == {"k": 3}


def test_binding_a_collection_of_tasks_builds_a_collection_task() -> None:
    @task
    def total(xs: list[int]) -> int:
        return sum(xs)

    with Flow("f") as flow:
        a = add(1, 2)
        s = total([a, a, 4])
    assert flow.run().result[s].result == 10


def test_on_failure_callback_is_called_once_with_the_failed_state() -> None:
    calls: list[Any] = []

    @task(on_failure=lambda t, s: calls.append((t.name, type(s).__name__)))
    def boom() -> None:
        raise RuntimeError("x")

    with Flow("f") as flow:
        boom()
    flow.run()
    assert calls == [("boom", "Failed")]


def test_nout_is_inferred_from_a_fixed_tuple_return_annotation() -> None:
    @task
    def pair() -> tuple[int, str]:
        return 1, "a"

    @task
    def old_style() -> Tuple[int, int, int]:  # noqa: UP006
        return 1, 2, 3

    @task
    def open_ended() -> tuple[int, ...]:
        return (1,)

    assert pair.nout == 2 and old_style.nout == 3 and open_ended.nout is None
    assert task(nout=5)(pair.run).nout == 5
    with Flow("unpack") as flow:
        _, y = pair()
    assert flow.run().result[y].result == "a"


def test_pipe_makes_a_state_dependency() -> None:
    @task
    def step(name: str) -> str:
        return name

    with Flow("pipe") as flow:
        first = step("first")
        second = step("second")
        third = step("third")
        assert (first | second) is second
        assert (second.__ror__(third)) is second
    assert flow.upstream_tasks(second) == {first, third}
    assert all(e.key is None for e in flow.edges_to(second))
