"""The executor interface with plain functions: submit, nested futures, wait, context, errors."""

from __future__ import annotations

import os
import pickle
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest

from headwater.executors import DaskExecutor, Executor, LocalDaskExecutor, LocalExecutor
from headwater.utilities.context import context

Pair = namedtuple("Pair", ["left", "right"])


def add(a: int, b: int) -> int:
    return a + b


def total(values: Any) -> int:
    return sum(values)


def echo(value: Any) -> Any:
    return value


def read_context(key: str) -> Any:
    return context.get(key)


def read_context_after(upstream: Any, key: str) -> Any:
    return upstream, context.get(key)


def fail(message: str) -> None:
    raise ValueError(message)


def pid() -> int:
    return os.getpid()


EXECUTORS: dict[str, Callable[[], Executor]] = {
    "local": LocalExecutor,
    "threads": lambda: LocalDaskExecutor("threads", num_workers=2),
    "processes": lambda: LocalDaskExecutor("processes", num_workers=2),
    "synchronous": lambda: LocalDaskExecutor("synchronous"),
    "dask": DaskExecutor,
}


@pytest.fixture(params=list(EXECUTORS))
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    ex = EXECUTORS[request.param]()
    with ex.start():
        yield ex


def test_chain_of_dependent_calls(executor: Executor) -> None:
    first = executor.submit(add, 1, 2)
    second = executor.submit(add, first, 10)
    third = executor.submit(add, a=second, b=first)
    assert executor.wait(third) == 16
    assert executor.wait([first, second, third]) == [3, 13, 16]


def test_futures_nested_in_arguments_and_in_wait(executor: Executor) -> None:
    a = executor.submit(add, 1, 1)
    b = executor.submit(add, 2, 2)
    nested = executor.submit(echo, {"list": [a, (b, {"deep": [a]})], "plain": 7})
    summed = executor.submit(total, [a, b, a])
    result = executor.wait({"nested": nested, "sum": summed, "pair": Pair(a, b), "x": "y"})
    assert result == {
        "nested": {"list": [2, (4, {"deep": [2]})], "plain": 7},
        "sum": 8,
        "pair": Pair(2, 4),
        "x": "y",
    }
    assert isinstance(result["pair"], Pair)


def test_wait_passes_non_futures_through(executor: Executor) -> None:
    structure = {"a": [1, 2], "b": ("x", None)}
    assert executor.wait(structure) == structure
    assert executor.wait(5) == 5


def test_run_context_reaches_the_call(executor: Executor) -> None:
    with context(flow_name="my-flow", flow_run_id="run-1"):
        future = executor.submit(read_context, "flow_name")
        upstream = executor.submit(add, 1, 1)
        # released later, from another thread, yet still sees the submitter's context
        dependent = executor.submit(read_context_after, upstream, "flow_run_id")
    assert executor.wait([future, dependent]) == ["my-flow", (2, "run-1")]


def test_failure_reaches_wait_and_dependents() -> None:
    for name in ("threads", "processes", "dask"):
        ex = EXECUTORS[name]()
        with ex.start():
            failed = ex.submit(fail, "broken input")
            dependent = ex.submit(add, failed, 1)
            fine = ex.submit(add, 1, 1)
            with pytest.raises(ValueError, match="broken input"):
                ex.wait(failed)
            with pytest.raises(ValueError, match="broken input"):
                ex.wait({"d": dependent})
            assert ex.wait(fine) == 2


def test_local_executor_calls_through_immediately() -> None:
    ex = LocalExecutor()
    calls: list[int] = []
    with ex.start():
        value = ex.submit(calls.append, 1)
        assert calls == [1]
        assert value is None
        assert ex.submit(add, 2, 3) == 5
        sentinel = object()
        assert ex.wait(sentinel) is sentinel


def test_local_executor_raises_at_submit() -> None:
    with LocalExecutor().start(), pytest.raises(ValueError, match="now"):
        LocalExecutor().submit(fail, "now")


def test_each_call_runs_once_however_often_waited() -> None:
    counter: list[int] = []
    lock = threading.Lock()

    def count() -> int:
        with lock:
            counter.append(1)
        return len(counter)

    ex = LocalDaskExecutor("threads", num_workers=2)
    with ex.start():
        future = ex.submit(count)
        downstream = [ex.submit(add, future, i) for i in range(5)]
        assert ex.wait(future) == 1
        assert ex.wait(downstream) == [1, 2, 3, 4, 5]
        assert ex.wait(future) == 1
    assert counter == [1]


def test_threads_run_in_parallel() -> None:
    # Both calls must be inside the barrier at the same time, or it breaks.
    barrier = threading.Barrier(2, timeout=10)
    ex = LocalDaskExecutor("threads", num_workers=2)
    with ex.start():
        futures = [ex.submit(barrier.wait) for _ in range(2)]
        assert sorted(ex.wait(futures)) == [0, 1]


def test_long_dependent_chain_on_one_worker_does_not_deadlock() -> None:
    ex = LocalDaskExecutor("threads", num_workers=1)
    with ex.start():
        future = ex.submit(add, 0, 0)
        for i in range(300):
            future = ex.submit(add, future, i)
        fan = [ex.submit(add, future, i) for i in range(50)]
        assert ex.wait(ex.submit(total, fan)) == 50 * sum(range(300)) + sum(range(50))


def test_processes_run_outside_this_process() -> None:
    ex = LocalDaskExecutor("processes", num_workers=1)
    with ex.start():
        assert ex.wait(ex.submit(pid)) != os.getpid()
        # closures and lambdas travel with cloudpickle
        offset = 5
        assert ex.wait(ex.submit(lambda x: x + offset, 1)) == 6


def test_processes_report_an_unpicklable_result() -> None:
    ex = LocalDaskExecutor("processes", num_workers=1)
    with ex.start():
        future = ex.submit(threading.Lock)
        with pytest.raises(TypeError, match="cannot be pickled"):
            ex.wait(future)


def test_synchronous_scheduler_runs_inline() -> None:
    ex = LocalDaskExecutor("sync")
    assert ex.scheduler == "synchronous"
    with ex.start():
        assert ex.submit(threading.get_ident) == threading.get_ident()


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("threading", "threads"),
        ("multiprocessing", "processes"),
        ("single-threaded", "synchronous"),
    ],
)
def test_dask_scheduler_aliases(alias: Any, canonical: str) -> None:
    assert LocalDaskExecutor(alias).scheduler == canonical


def test_submit_outside_start_is_an_error() -> None:
    ex = LocalDaskExecutor()
    with pytest.raises(RuntimeError, match=r"outside executor\.start"):
        ex.submit(add, 1, 2)
    with ex.start():
        pass
    with pytest.raises(RuntimeError, match=r"outside executor\.start"):
        ex.submit(add, 1, 2)
    with pytest.raises(RuntimeError, match=r"outside executor\.start"):
        DaskExecutor().submit(add, 1, 2)


def test_shutdown_is_idempotent_and_start_can_repeat() -> None:
    ex = LocalDaskExecutor("threads", num_workers=1)
    for _ in range(2):
        with ex.start():
            assert ex.wait(ex.submit(add, 1, 1)) == 2
            ex.shutdown()
            ex.shutdown()


def test_start_releases_resources_when_the_block_raises() -> None:
    ex = LocalDaskExecutor("threads", num_workers=1)
    with pytest.raises(KeyError), ex.start():
        raise KeyError("inside")
    assert ex._runner is None


@pytest.mark.parametrize("name", list(EXECUTORS))
def test_executors_pickle_before_and_while_running(name: str) -> None:
    ex = EXECUTORS[name]()
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        copy = loads(dumps(ex))
        assert type(copy) is type(ex)
    with ex.start():
        copy = cloudpickle.loads(cloudpickle.dumps(ex))
        assert copy.__dict__.get("_started") is False
        with copy.start():
            assert copy.wait(copy.submit(add, 2, 2)) == 4
        assert ex.wait(ex.submit(add, 1, 2)) == 3


def test_unknown_options_are_type_errors_naming_them() -> None:
    with pytest.raises(TypeError, match="num_worker"):
        LocalDaskExecutor(num_worker=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="adress"):
        DaskExecutor(adress="tcp://127.0.0.1:1")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="workers"):
        LocalExecutor(workers=1)  # type: ignore[call-arg]


def test_bad_option_values_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'gpu'"):
        LocalDaskExecutor("gpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_workers must be at least 1"):
        LocalDaskExecutor(num_workers=0)
    with pytest.raises(TypeError, match="num_workers must be an int"):
        LocalDaskExecutor(num_workers="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cluster_kwargs cannot be combined with address"):
        DaskExecutor(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 2})
    with pytest.raises(ValueError, match="address must be"):
        DaskExecutor(address="")
    with pytest.raises(ValueError, match="client_kwargs must be a dict"):
        DaskExecutor(client_kwargs=[1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cluster_class must be"):
        DaskExecutor(cluster_class=5)  # type: ignore[arg-type]


def test_repr_names_the_executor() -> None:
    assert repr(LocalExecutor()) == "<Executor: LocalExecutor>"
    assert "processes" in repr(LocalDaskExecutor("processes"))
    assert "tcp://h:1" in repr(DaskExecutor("tcp://h:1"))


class _Ambiguous:
    """A value whose == is not a bool (like an array), which must not break submission."""

    def __eq__(self, other: object) -> Any:
        return self

    def __bool__(self) -> bool:
        raise ValueError("truth value is ambiguous")

    __hash__ = object.__hash__


@pytest.mark.parametrize("name", ["processes", "dask"])
def test_context_values_with_ambiguous_equality(name: str) -> None:
    ex = EXECUTORS[name]()
    with ex.start():
        for _ in range(2):
            with context(weird=_Ambiguous(), flow_name="f"):
                assert ex.wait(ex.submit(read_context, "flow_name")) == "f"


def record_setup() -> None:
    # Runs in the worker process: one marker file per process and call of the hook.
    directory = os.environ["HEADWATER_TEST_SETUP_DIR"]
    marker = os.path.join(directory, f"setup-{os.getpid()}")
    with open(marker, "a", encoding="utf-8") as handle:
        handle.write("x")


def record_tagged_setup(tag: str) -> None:
    directory = os.environ["HEADWATER_TEST_SETUP_DIR"]
    with open(os.path.join(directory, f"tag-{tag}-{os.getpid()}"), "a", encoding="utf-8") as f:
        f.write("x")


def setup_ran_here() -> tuple[int, str]:
    directory = os.environ["HEADWATER_TEST_SETUP_DIR"]
    with open(os.path.join(directory, f"setup-{os.getpid()}"), encoding="utf-8") as handle:
        return os.getpid(), handle.read()


def test_worker_setup_hook_runs_once_per_worker_process(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_TEST_SETUP_DIR", str(tmp_path))
    ex = LocalDaskExecutor("processes", num_workers=1)
    with ex.start(), context(executor_worker_setup=record_setup):
        results = ex.wait([ex.submit(setup_ran_here) for _ in range(4)])
    pids = {pid for pid, _ in results}
    assert len(pids) == 1 and os.getpid() not in pids
    assert {marks for _, marks in results} == {"x"}
    assert [p.name for p in tmp_path.iterdir()] == [f"setup-{pids.pop()}"]


def test_worker_setup_hook_is_not_run_for_threads(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_TEST_SETUP_DIR", str(tmp_path))
    ex = LocalDaskExecutor("threads", num_workers=1)
    with ex.start(), context(executor_worker_setup=record_setup):
        assert ex.wait(ex.submit(add, 1, 1)) == 2
    assert list(tmp_path.iterdir()) == []


def test_worker_setup_hook_accepts_a_partial_once_per_arguments(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    monkeypatch.setenv("HEADWATER_TEST_SETUP_DIR", str(tmp_path))
    ex = LocalDaskExecutor("processes", num_workers=1)
    with ex.start():
        for tag in ("a", "a", "b"):
            with context(executor_worker_setup=functools.partial(record_tagged_setup, tag)):
                pid = ex.wait(ex.submit(os.getpid))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"tag-a-{pid}", f"tag-b-{pid}"]
    assert (tmp_path / f"tag-a-{pid}").read_text() == "x"
