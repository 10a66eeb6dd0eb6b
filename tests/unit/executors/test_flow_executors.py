"""Executors as flows use them: carried by a pickled flow, started once per flow run."""

from __future__ import annotations

import os

import cloudpickle
import pytest

from headwater import Flow, task
from headwater.executors import DaskExecutor, LocalDaskExecutor, LocalExecutor


@task
def inc(x: int) -> int:
    return x + 1


def _flow(executor: object) -> tuple[Flow, object]:
    with Flow("carried", executor=executor) as flow:
        result = inc.map([1, 2, 3])
    return flow, result


@pytest.mark.parametrize(
    "executor",
    [LocalExecutor(), LocalDaskExecutor("threads", num_workers=2), LocalDaskExecutor("sync")],
    ids=["local", "threads", "sync"],
)
def test_flow_carrying_its_executor_survives_pickling(executor: object) -> None:
    flow, result = _flow(executor)
    first = flow.run()
    copy = cloudpickle.loads(cloudpickle.dumps(flow))
    assert type(copy.executor) is type(executor)
    again = copy.run()
    copied_result = next(t for t in copy.tasks if t.slug == result.slug)  # type: ignore[attr-defined]
    assert first.result[result].result == again.result[copied_result].result == [2, 3, 4]


def test_an_executor_runs_one_flow_run_at_a_time() -> None:
    for ex in (LocalDaskExecutor("threads", num_workers=1), DaskExecutor()):
        with ex.start():
            with pytest.raises(RuntimeError, match="already started"), ex.start():
                pass
            # the refused second start left the first one working
            assert ex.wait(ex.submit(pow, 2, 3)) == 8
        with ex.start():
            assert ex.wait(ex.submit(pow, 3, 2)) == 9


def test_stateless_executors_may_be_started_concurrently() -> None:
    for ex in (LocalExecutor(), LocalDaskExecutor("sync")):
        with ex.start(), ex.start():
            assert ex.submit(pow, 2, 2) == 4


@task
def make_lock() -> object:
    import threading

    return threading.Lock()


def test_a_result_that_cannot_leave_the_worker_fails_only_that_task_run() -> None:
    with Flow("unpicklable") as flow:
        lock = make_lock()
        fine = inc(1)
        after = inc(lock)
    state = flow.run(executor=LocalDaskExecutor("processes", num_workers=1))
    assert state.is_failed()
    assert state.result[lock].is_failed()
    assert "cannot be pickled" in str(state.result[lock].message)
    assert state.result[fine].result == 2
    assert state.result[after].is_failed()


@task
def exit_worker() -> None:
    os._exit(3)


def test_a_worker_process_that_dies_fails_the_flow_run() -> None:
    with Flow("worker-dies") as flow:
        exit_worker()
    state = flow.run(executor=LocalDaskExecutor("processes", num_workers=1))
    assert state.is_failed()
    assert "BrokenProcessPool" in str(state.message)
    assert "BrokenProcessPool" in str(state.message)
