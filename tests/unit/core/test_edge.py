"""Edges and the annotations that change how a bound value flows."""

from __future__ import annotations

import cloudpickle
import pytest

from headwater import Task, flatten, mapped, unmapped
from headwater.core.edge import Edge


def test_edges_compare_by_value_and_hash_alike() -> None:
    a, b = Task(name="a"), Task(name="b")
    assert Edge(a, b, key="x") == Edge(a, b, key="x")
    assert hash(Edge(a, b, key="x")) == hash(Edge(a, b, key="x"))
    assert Edge(a, b, key="x") != Edge(a, b, key="y")
    assert Edge(a, b) != Edge(a, b, mapped=True)
    assert len({Edge(a, b), Edge(a, b)}) == 1


def test_annotations_wrapped_around_the_upstream_task_set_flags() -> None:
    a, b = Task(name="a"), Task(name="b")
    assert Edge(unmapped(a), b, mapped=True).mapped is False
    assert Edge(mapped(a), b).mapped is True
    assert Edge(flatten(a), b).flattened is True
    assert repr(unmapped(a)) == "unmapped(<Task: a>)"


def test_edge_repr_names_both_ends() -> None:
    a, b = Task(name="a"), Task(name="b")
    assert repr(Edge(a, b)) == "<Edge: a to b>"
    assert repr(Edge(a, b, key="x", mapped=True)) == "<Edge (key=x, mapped): a to b>"


def test_bad_edges_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"upstream_task must be a Task"):
        Edge(1, Task())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"downstream_task must be a Task"):
        Edge(Task(), "b")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"key must be a string"):
        Edge(Task(), Task(), key=3)  # type: ignore[arg-type]


def test_edges_survive_pickling_with_their_tasks() -> None:
    a, b = Task(name="a"), Task(name="b")
    edge = Edge(a, b, key="x")
    copy = cloudpickle.loads(cloudpickle.dumps(edge))
    assert copy.key == "x" and copy.upstream_task.name == "a"
    assert copy == Edge(copy.upstream_task, copy.downstream_task, key="x")
    assert hash(copy) == hash(Edge(copy.upstream_task, copy.downstream_task, key="x"))
