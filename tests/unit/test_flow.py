"""Flows: building (functional and imperative), slugs, ordering, copies, serialization."""

from __future__ import annotations

import json
from typing import Any

import cloudpickle
import pytest

from headwater import Flow, Parameter, Task, task
from headwater.core.edge import Edge


@task
def inc(x: int) -> int:
    return x + 1


@task
def add(x: int, y: int) -> int:
    return x + y


class Noop(Task):
    def run(self, x: Any = None) -> Any:
        return x


def test_functional_api_builds_tasks_edges_and_constants() -> None:
    with Flow("f") as flow:
        a = inc(1)
        b = add(a, 2)
    assert flow.tasks == {a, b}
    assert flow.edges == {Edge(a, b, key="x")}
    assert flow.constants[b] == {"y": 2}
    assert flow.root_tasks() == {a} and flow.terminal_tasks() == {b}
    assert flow.upstream_tasks(b) == {a} and flow.downstream_tasks(a) == {b}
    assert repr(flow) == '<Flow: name="f">'


def test_imperative_api() -> None:
    flow = Flow("imperative")
    a, b, c = Noop(name="a"), Noop(name="b"), Noop(name="c")
    flow.add_task(a)
    flow.add_edge(a, b, key="x")
    flow.set_dependencies(c, upstream_tasks=[b], keyword_tasks={"x": 5})
    assert flow.tasks == {a, b, c}
    assert flow.edges_to(b) == {Edge(a, b, key="x")}
    assert flow.edges_from(b) == {Edge(b, c)}
    assert flow.constants[c] == {"x": 5}
    assert flow.sorted_tasks() == (a, b, c)
    assert flow.run().is_successful()


def test_edge_keys_are_checked() -> None:
    flow = Flow("f")
    a, b = Noop(name="a"), Noop(name="b")
    with pytest.raises(ValueError, match=r"task 'b' has no input 'nope'"):
        flow.add_edge(a, b, key="nope")
    flow.add_edge(a, b, key="x")
    with pytest.raises(ValueError, match=r"argument 'x' of task 'b' has already been assigned"):
        flow.add_edge(Noop(name="c"), b, key="x")
    with pytest.raises(TypeError, match=r"tasks must be Task instances"):
        flow.add_task("a")  # type: ignore[arg-type]


def test_slugs_follow_name_tags_and_counter() -> None:
    with Flow("f") as flow:
        a1 = inc(1)
        a2 = inc(2)
        tagged = inc(3, task_args={"tags": ["b", "a"]})
        named = inc(4, task_args={"slug": "chosen"})
    assert [a1.slug, a2.slug, tagged.slug, named.slug] == ["inc-1", "inc-2", "inc-a-b-1", "chosen"]
    assert flow.slugs == {a1: "inc-1", a2: "inc-2", tagged: "inc-a-b-1", named: "chosen"}
    again = Flow("g")
    again.add_task(Noop(slug="chosen"))
    with pytest.raises(ValueError, match='slug "chosen" already exists'):
        again.add_task(Noop(slug="chosen"))


def test_slugs_are_the_same_for_the_same_build() -> None:
    def build() -> list[str]:
        with Flow("f") as flow:
            inc(add(inc(1), inc(2)))
        return [t.slug or "" for t in flow.sorted_tasks()]

    assert build() == build() == ["inc-1", "inc-2", "add-1", "inc-3"]


def test_sorted_tasks_and_cycles() -> None:
    flow = Flow("cyclic")
    a, b, c = Noop(name="a"), Noop(name="b"), Noop(name="c")
    flow.chain(a, b, c)
    assert flow.sorted_tasks() == (a, b, c)
    assert flow.sorted_tasks(root_tasks=[b]) == (b, c)
    assert list(flow) == [a, b, c]
    flow.add_edge(c, a)
    with pytest.raises(
        ValueError, match=r"Flow 'cyclic' has a cycle among the tasks: a-1, b-1, c-1"
    ):
        flow.sorted_tasks()
    with pytest.raises(ValueError, match=r"cycle"):
        flow.validate()
    with pytest.raises(ValueError, match=r"cycle"):
        flow.run()


def test_reference_tasks() -> None:
    with Flow("f") as flow:
        a = inc(1)
        b = inc(a)
    assert flow.reference_tasks() == {b}
    flow.set_reference_tasks([a])
    assert flow.reference_tasks() == {a}
    with pytest.raises(ValueError, match=r"reference tasks not in the flow: stray"):
        flow.set_reference_tasks([Noop(name="stray")])


def test_get_tasks_filters() -> None:
    with Flow("f") as flow:
        a = inc(1, task_args={"tags": ["x"]})
        b = add(1, 2)
        p = Parameter("p", default=1)
    assert flow.get_tasks() == [a, b, p]
    assert flow.get_tasks(name="inc") == [a]
    assert flow.get_tasks(slug="add-1") == [b]
    assert flow.get_tasks(tags=["x"]) == [a]
    assert flow.get_tasks(task_type=Parameter) == [p]
    assert flow.get_tasks(name="inc", tags=["y"]) == []


def test_copy_is_independent() -> None:
    with Flow("f") as flow:
        a = inc(1)
    other = flow.copy()
    extra = Noop(name="extra")
    other.add_edge(a, extra)
    assert extra not in flow.tasks and not flow.edges_from(a)
    assert other.tasks == {a, extra}


def test_update_merges_another_flow() -> None:
    with Flow("one") as one:
        a = inc(1)
    with Flow("two") as two:
        b = add(3, 4)
    one.update(two)
    assert one.tasks == {a, b} and one.constants[b] == {"x": 3, "y": 4}
    state = one.run()
    assert state.result[b].result == 7


def test_serialize_is_json_and_describes_the_graph() -> None:
    import datetime

    with Flow("serial") as flow:
        p = Parameter("p", default={"k": [1]})
        q = Parameter("q", default=object())
        a = inc.copy(max_retries=2, retry_delay=datetime.timedelta(seconds=3), timeout=5)(p)
        b = inc.map([1, 2])
        add(a, q)
    data = flow.serialize()
    json.dumps(data)
    assert data["name"] == "serial"
    assert set(data) >= {"tasks", "edges", "parameters", "reference_tasks", "schedule",
                         "run_config", "storage", "environment", "__version__"}  # fmt: skip
    tasks = {t["slug"]: t for t in data["tasks"]}
    assert tasks["inc-1"]["max_retries"] == 2
    assert tasks["inc-1"]["retry_delay"] == 3.0 and tasks["inc-1"]["timeout"] == 5
    assert tasks["inc-1"]["trigger"] == "headwater.triggers.all_successful"
    assert tasks["inc-1"]["type"] == "headwater.tasks.core.function.FunctionTask"
    assert tasks[b.slug]["mapped"] is True and tasks["inc-1"]["mapped"] is False
    assert {"upstream_task": "p", "downstream_task": "inc-1", "key": "x", "mapped": False,
            "flattened": False} in data["edges"]  # fmt: skip
    params = {d["name"]: d for d in data["parameters"]}
    assert params["p"] == {"name": "p", "slug": "p", "required": False, "default": {"k": [1]}}
    assert isinstance(params["q"]["default"], str)
    assert data["reference_tasks"] == sorted([b.slug or "", "add-1"])


def test_flow_options_are_stored_and_flows_pickle() -> None:
    from headwater.executors import LocalExecutor

    handler = lambda flow, old, new: None  # noqa: E731
    ex = LocalExecutor()
    flow = Flow("opts", executor=ex, state_handlers=[handler], run_config=None, storage=None)
    assert flow.executor is ex and flow.state_handlers == [handler]
    with flow:
        inc(1)
    copy = cloudpickle.loads(cloudpickle.dumps(flow))
    assert len(copy.tasks) == 1 and copy.run().is_successful()
    with pytest.raises(TypeError, match=r"non-empty string"):
        Flow("")
    with pytest.raises(TypeError, match=r"is not callable"):
        Flow("x", state_handlers=[3])  # type: ignore[list-item]


def test_run_rejects_unknown_keywords() -> None:
    with Flow("f") as flow:
        inc(1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'bogus'"):
        flow.run(bogus=1)


def test_nested_flow_contexts_restore_the_outer_flow() -> None:
    with Flow("outer") as outer:
        with Flow("inner") as inner:
            i = inc(1)
        o = inc(2)
    assert inner.tasks == {i} and outer.tasks == {o}


def test_run_on_schedule_runs_once_per_scheduled_time() -> None:
    import datetime as dt

    class TwoTimes:
        def __init__(self) -> None:
            now = dt.datetime.now(dt.UTC)
            self.times = [now + dt.timedelta(seconds=0.2), now + dt.timedelta(seconds=0.4)]

        def next(self, n: int, after: dt.datetime | None = None) -> list[dt.datetime]:
            return [t for t in self.times if after is None or t > after][:n]

    seen: list[Any] = []

    @task
    def record() -> None:
        from headwater import context

        seen.append(context.scheduled_start_time)

    with Flow("scheduled", schedule=TwoTimes()) as flow:
        record()
    assert flow.run(run_on_schedule=False).is_successful() and len(seen) == 1
    state = flow.run(run_on_schedule=True)
    assert state.is_successful() and seen[1:] == flow.schedule.times


def test_run_on_schedule_without_upcoming_times_is_an_error() -> None:
    class Empty:
        def next(self, n: int, after: Any = None) -> list[Any]:
            return []

    with Flow("never", schedule=Empty()) as flow:
        inc(1)
    with pytest.raises(ValueError, match=r"'never': its schedule has no upcoming times"):
        flow.run(run_on_schedule=True)


def test_the_flow_being_built_is_in_the_context() -> None:
    from headwater import context

    with Flow("built") as flow:
        assert context.flow is flow
    assert "flow" not in context


def test_a_task_keeps_its_slug_when_another_flow_takes_it_in() -> None:
    with Flow("one") as one:
        a = inc(1)
    with Flow("two") as two:
        b = add(2, 3)
    two.update(one)
    assert a.slug == "inc-1" and b.slug == "add-1"
    assert two.slugs[a] == "inc-1"
    assert one.serialize()["tasks"][0]["slug"] == "inc-1"
    with Flow("three") as three:
        c = inc(5)
    three.update(one)  # the slug is taken here, so the incoming task gets a fresh one
    assert c.slug == "inc-1" and a.slug == "inc-2"


def test_bad_run_arguments_are_type_errors() -> None:
    with Flow("args") as flow:
        inc(1)
    with pytest.raises(TypeError, match=r"'args': parameters must be a dict, got list"):
        flow.run(parameters=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'args': context must be a dict"):
        flow.run(context="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'args': executor must be an Executor"):
        flow.run(executor="local")


def test_replace_keeps_edges_constants_and_reference_status() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    with Flow("replace") as flow:
        a = inc(1)
        b = inc(a)
    flow.set_reference_tasks([b])
    new_b = double.copy()
    flow.replace(b, new_b)
    flow.replace(a, double.copy())
    assert b not in flow.tasks and new_b in flow.tasks
    assert flow.reference_tasks() == {new_b}
    state = flow.run()
    assert state.result[new_b].result == 4
    assert flow.all_upstream_edges()[new_b] == flow.edges_to(new_b)
    assert set(flow.all_downstream_edges()) == flow.tasks
    with pytest.raises(ValueError, match=r"is not in this flow"):
        flow.replace(b, new_b)


def test_eager_validation_refuses_an_edge_that_closes_a_cycle() -> None:
    from headwater.utilities.configuration import set_temporary_config

    flow = Flow("eager")
    a, b, c = Noop(name="a"), Noop(name="b"), Noop(name="c")
    flow.add_edge(a, b, validate=True)
    flow.add_edge(b, c, validate=True)
    with pytest.raises(ValueError, match=r"Cycle found; flows must be acyclic!"):
        flow.add_edge(c, a, validate=True)
    assert flow.sorted_tasks() == (a, b, c)  # the refused edge was not added
    with set_temporary_config({"flows.eager_edge_validation": True}):
        with pytest.raises(ValueError, match=r"Cycle found"):
            flow.add_edge(c, b)
    flow.add_edge(c, a)  # lazily validated by default: refused when sorted
    with pytest.raises(ValueError, match=r"cycle"):
        flow.sorted_tasks()


def test_serialized_hash_is_stable_and_changes_with_the_graph() -> None:
    with Flow("hashed") as flow:
        inc(1)
    first = flow.serialized_hash()
    assert first == flow.serialized_hash() and len(first) == 64
    with flow:
        inc(2)
    assert flow.serialized_hash() != first


def test_save_and_load_round_trip(tmp_path: Any) -> None:
    with Flow("saved") as flow:
        out = add(Parameter("p", default=2), 40)
    path = flow.save(str(tmp_path / "saved.flow"))
    loaded = Flow.load(path)
    assert loaded.name == "saved"
    result = loaded.run()
    assert [s.result for t, s in result.result.items() if t.slug == out.slug] == [42]
    default_path = flow.save()
    assert default_path.endswith("saved.headwater") and Flow.load(default_path).name == "saved"
    (tmp_path / "other").write_bytes(__import__("cloudpickle").dumps([1]))
    with pytest.raises(TypeError, match=r"does not hold a Flow \(found list\)"):
        Flow.load(str(tmp_path / "other"))
