"""The run context: scoping, isolation between threads and asyncio tasks, snapshots."""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import timeit
from concurrent.futures import ThreadPoolExecutor

import pytest

import headwater
from headwater.utilities import context as context_module
from headwater.utilities.context import Context, context


def test_public_paths() -> None:
    assert headwater.context is context
    assert context_module.context is context
    assert isinstance(context, Context)


def test_attribute_item_and_get_access() -> None:
    with context(a=1, b="two"):
        assert context.a == 1
        assert context["b"] == "two"
        assert context.get("a") == 1
        assert context.get("missing", 5) == 5
        assert context.get("missing") is None
        assert "a" in context and "missing" not in context
        assert sorted(context) == ["a", "b"]
    with pytest.raises(AttributeError, match="no value for 'a'"):
        _ = context.a
    with pytest.raises(KeyError):
        _ = context["a"]


def test_push_merges_and_pop_restores() -> None:
    with context(a=1, b=1):
        with context({"b": 2}, c=3) as ctx:
            assert ctx is context
            assert context.to_dict() == {"a": 1, "b": 2, "c": 3}
        assert context.to_dict() == {"a": 1, "b": 1}
    assert context.to_dict() == {}


def test_writes_are_scoped_to_the_block() -> None:
    with context(a=1):
        context.b = 2
        context["c"] = 3
        context.update({"d": 4}, e=5)
        del context["a"]
        assert context.to_dict() == {"b": 2, "c": 3, "d": 4, "e": 5}
        context.clear()
        assert context.to_dict() == {}
    assert context.to_dict() == {}


def test_delete_missing_key() -> None:
    with pytest.raises(KeyError):
        del context["nope"]
    with pytest.raises(AttributeError, match="no value for 'nope'"):
        del context.nope


def test_snapshot_does_not_change_with_later_writes() -> None:
    with context(a=1):
        snap = context.to_dict()
        context.a = 2
        assert snap == {"a": 1}


def test_restore_a_snapshot_in_a_worker_thread() -> None:
    seen: dict[str, object] = {}

    def work(snapshot: dict[str, object]) -> None:
        seen["before"] = context.to_dict()
        with context(**snapshot):
            seen["inside"] = context.get("flow_run_id")

    with context(flow_run_id="fr-1"), ThreadPoolExecutor(1) as pool:
        pool.submit(work, context.to_dict()).result()
    assert seen == {"before": {}, "inside": "fr-1"}


def test_threads_are_isolated() -> None:
    barrier = threading.Barrier(2, timeout=10)
    results: dict[int, object] = {}

    def run(i: int) -> None:
        with context(value=i):
            barrier.wait()
            context.extra = i
            barrier.wait()
            results[i] = (context.value, context.extra)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {0: (0, 0), 1: (1, 1)}


async def test_asyncio_tasks_are_isolated() -> None:
    async def run(i: int) -> int:
        with context(value=i):
            await asyncio.sleep(0)
            value: int = context.value
            return value

    assert await asyncio.gather(*(run(i) for i in range(5))) == [0, 1, 2, 3, 4]


def test_logger_defaults_to_the_running_task_or_flow() -> None:
    assert context.logger.name == "headwater"
    with context(flow_name="my-flow"):
        assert context.logger.name == "headwater.my-flow"
        with context(task_name="my-task"):
            assert context.get("logger").name == "headwater.my-task"
        explicit = logging.getLogger("custom")
        with context(logger=explicit):
            assert context.logger is explicit


def test_pickles_by_reference() -> None:
    assert pickle.loads(pickle.dumps(context)) is context


def test_equality_and_repr() -> None:
    with context(a=1):
        assert context == {"a": 1}
        assert "'a': 1" in repr(context)


def test_push_pop_is_cheap() -> None:
    def push_pop() -> None:
        with context(task_name="t", map_index=-1):
            context.get("task_name")

    with context({f"k{i}": i for i in range(30)}):
        per_call = min(timeit.repeat(push_pop, number=2000, repeat=3)) / 2000
    assert per_call < 20e-6
