"""The TaskRunner on its own: outcomes, signals, checks, retries, timeouts, handlers."""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

import pytest

from headwater import Task, task, triggers
from headwater.core.edge import Edge
from headwater.engine import signals
from headwater.engine.results import LocalResult
from headwater.engine.state import (
    Failed,
    Looped,
    Paused,
    Pending,
    Retrying,
    Running,
    Skipped,
    State,
    Success,
    TimedOut,
    TriggerFailed,
)
from headwater.engine.task_runner import TaskRunner
from headwater.utilities.context import context


@task
def add(x: int, y: int) -> int:
    return x + y


def _edge(key: str | None = None, down: Task | None = None) -> Edge:
    return Edge(Task(name="up"), down or Task(name="down"), key=key)


def test_success_uses_inputs_from_upstream_states_and_constants() -> None:
    up = {_edge("x", add): Success(result=2)}
    state = TaskRunner(add).run(upstream_states=up, constants={"y": 3})
    assert isinstance(state, Success) and state.result == 5
    assert state.message == "Task run succeeded."


def test_an_exception_fails_the_task_with_its_repr() -> None:
    @task
    def boom() -> None:
        raise KeyError("nope")

    state = TaskRunner(boom).run()
    assert isinstance(state, Failed)
    assert state.message == "Error during execution of task: KeyError('nope')"
    assert isinstance(state.result, KeyError)


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (signals.SUCCESS, Success),
        (signals.FAIL, Failed),
        (signals.SKIP, Skipped),
        (signals.TRIGGERFAIL, TriggerFailed),
        (signals.PAUSE, Paused),
        (signals.RETRY, Retrying),
    ],
)
def test_signals_set_their_state(signal: type[BaseException], expected: type[State]) -> None:
    @task
    def raiser() -> None:
        raise signal("by signal")

    state = TaskRunner(raiser).run()
    assert type(state) is expected and state.message == "by signal"
    assert isinstance(state.result, signal)
    if isinstance(state, Retrying):
        assert state.run_count == 1


def test_loop_runs_again_with_loop_count_and_result() -> None:
    seen: list[tuple[int, Any]] = []

    @task
    def looper() -> int:
        count = context.get("task_loop_count", 1)
        seen.append((count, context.get("task_loop_result")))
        if count < 3:
            raise signals.LOOP("again", result=count * 10)
        return count

    transitions: list[str] = []

    def handler(t: Task, old: State, new: State) -> None:
        transitions.append(type(new).__name__)

    state = TaskRunner(looper.copy(state_handlers=[handler])).run()
    assert isinstance(state, Success) and state.result == 3
    assert seen == [(1, None), (2, 10), (3, 20)]
    assert transitions == ["Running", "Looped", "Running", "Looped", "Running", "Success"]


def test_a_looped_start_state_continues_the_loop() -> None:
    @task
    def looper() -> Any:
        return (context.task_loop_count, context.task_loop_result)

    state = TaskRunner(looper).run(state=Looped(result=7, loop_count=2))
    assert state.result == (3, 7)


def test_unfinished_upstream_leaves_the_state_unchanged() -> None:
    pending = Pending()
    state = TaskRunner(add).run(state=pending, upstream_states={_edge("x", add): Running()})
    assert state is pending


def test_upstream_skip_propagates_unless_disabled() -> None:
    up = {_edge(): Skipped()}
    state = TaskRunner(Task(name="t")).run(upstream_states=up)
    assert isinstance(state, Skipped) and "skip_on_upstream_skip" in (state.message or "")
    ran = TaskRunner(Task(name="t", skip_on_upstream_skip=False)).run(upstream_states=up)
    assert isinstance(ran, Success)


def test_trigger_failures() -> None:
    up = {_edge(): Failed()}
    state = TaskRunner(Task(name="t")).run(upstream_states=up)
    assert isinstance(state, TriggerFailed)
    ok = TaskRunner(Task(name="t", trigger=triggers.all_failed)).run(upstream_states=up)
    assert isinstance(ok, Success)
    false = TaskRunner(Task(name="t", trigger=lambda states: False)).run(upstream_states=up)
    assert isinstance(false, TriggerFailed) and "'t'" in (false.message or "")

    def broken(states: Any) -> bool:
        raise RuntimeError("trigger bug")

    err = TaskRunner(Task(name="t", trigger=broken)).run(upstream_states=up)
    assert isinstance(err, TriggerFailed) and "trigger bug" in (err.message or "")
    paused = TaskRunner(Task(name="t", trigger=triggers.manual_only)).run(
        upstream_states={_edge(): Success()}
    )
    assert isinstance(paused, Paused)


def test_finished_states_are_not_run_again() -> None:
    done = Success(result=1)
    assert TaskRunner(add).run(state=done) is done


def test_a_future_retry_time_leaves_the_state_unchanged() -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    retry = Retrying(start_time=later, run_count=1)
    assert TaskRunner(Task()).run(state=retry) is retry


def test_failure_with_retries_left_becomes_retrying() -> None:
    attempts: list[int] = []

    @task(max_retries=2, retry_delay=datetime.timedelta(minutes=1))
    def flaky() -> None:
        attempts.append(context.task_run_count)
        raise ValueError("flaky")

    before = datetime.datetime.now(datetime.UTC)
    first = TaskRunner(flaky).run()
    assert isinstance(first, Retrying) and first.run_count == 1
    assert first.message == "Retrying Task (after attempt 1 of 3)"
    assert first.start_time is not None
    assert first.start_time >= before + datetime.timedelta(seconds=59)
    first.start_time = before  # due now
    second = TaskRunner(flaky).run(state=first)
    assert isinstance(second, Retrying) and second.run_count == 2
    second.start_time = before
    third = TaskRunner(flaky).run(state=second)
    assert isinstance(third, Failed) and not isinstance(third, Retrying)
    assert attempts == [1, 2, 3]


def test_retry_on_limits_which_errors_retry() -> None:
    @task(max_retries=1, retry_delay=datetime.timedelta(0), retry_on=KeyError)
    def flaky() -> None:
        raise ValueError("not retried")

    assert type(TaskRunner(flaky).run()) is Failed


def test_timeout_ends_timed_out_without_waiting_for_the_task() -> None:
    release = threading.Event()

    @task(timeout=0.2)
    def slow() -> int:
        release.wait(10)
        return 1

    try:
        state = TaskRunner(slow).run()
    finally:
        release.set()
    assert isinstance(state, TimedOut) and state.message == "Task timed out during execution."


def test_timeout_keeps_results_errors_and_context_of_fast_tasks() -> None:
    @task(timeout=5)
    def fast() -> Any:
        return context.task_name

    @task(timeout=5)
    def bad() -> None:
        raise signals.SKIP("skip me")

    assert TaskRunner(fast).run().result == "fast"
    assert isinstance(TaskRunner(bad).run(), Skipped)


def test_state_handlers_see_every_transition_and_may_replace_states() -> None:
    seen: list[tuple[str, str]] = []

    def record(t: Task, old: State, new: State) -> State | None:
        seen.append((type(old).__name__, type(new).__name__))
        return None

    def override(t: Task, old: State, new: State) -> State:
        return Success("overridden", result=42) if new.is_failed() else new

    @task(state_handlers=[record, override])
    def boom() -> None:
        raise RuntimeError("x")

    state = TaskRunner(boom).run()
    assert seen == [("Pending", "Running"), ("Running", "Failed")]
    assert state.message == "overridden" and state.result == 42


def test_a_raising_state_handler_fails_the_task() -> None:
    def bad(t: Task, old: State, new: State) -> None:
        raise RuntimeError("handler bug")

    state = TaskRunner(Task(name="t", state_handlers=[bad])).run()
    assert isinstance(state, Failed)
    assert "Exception raised while calling state handlers" in (state.message or "")


def test_runner_level_handlers_receive_the_runner() -> None:
    got: list[Any] = []
    runner = TaskRunner(Task(), state_handlers=[lambda r, o, n: got.append(r)])
    runner.run()
    assert got == [runner, runner]


def test_context_inside_the_task() -> None:
    @task
    def read() -> dict[str, Any]:
        keys = ("task_name", "task_slug", "task_full_name", "map_index", "task_run_count")
        return {k: context.get(k) for k in keys} | {"logger": context.logger.name}

    got = TaskRunner(read).run(context={"map_index": 3}).result
    assert got == {
        "task_name": "read",
        "task_slug": None,
        "task_full_name": "read[3]",
        "map_index": 3,
        "task_run_count": 1,
        "logger": "headwater.read[3]",
    }


def test_log_stdout_sends_print_to_the_task_logger(caplog: pytest.LogCaptureFixture) -> None:
    @task(log_stdout=True)
    def talker() -> None:
        print("hello from the task")

    logger = logging.getLogger("headwater.talker-test")
    with caplog.at_level(logging.INFO, logger="headwater.talker-test"):
        logger.propagate = True
        state = TaskRunner(talker).run(context={"logger": logger})
    assert state.is_successful()
    assert "hello from the task" in caplog.text


def test_checkpointing_writes_the_result(tmp_path: Any) -> None:
    @task(result=LocalResult(dir=str(tmp_path), location="{task_name}.pkl"))
    def value() -> int:
        return 5

    with context(checkpointing=True):
        state = TaskRunner(value).run()
    assert (tmp_path / "value.pkl").exists()
    assert state._result.location == str(tmp_path / "value.pkl")
    with context(checkpointing=False):
        TaskRunner(value.copy(name="off")).run()
    assert not (tmp_path / "off.pkl").exists()


def test_initialize_run_sets_run_count_from_a_retrying_state() -> None:
    ctx: dict[str, Any] = {}
    _, ctx = TaskRunner(Task()).initialize_run(Retrying(run_count=2), ctx)
    assert ctx["task_run_count"] == 3
    ctx = {"task_run_count": 7}
    TaskRunner(Task()).initialize_run(Pending(), ctx)
    assert ctx["task_run_count"] == 7


def test_cache_for_reuses_a_result_until_the_validator_refuses() -> None:
    from headwater.engine import cache_validators
    from headwater.engine.state import Cached

    cache_validators.clear_caches()
    calls: list[int] = []

    @task(cache_for=datetime.timedelta(minutes=5), cache_validator=cache_validators.all_inputs)
    def expensive(x: int) -> int:
        calls.append(x)
        return x * 2

    up = {_edge("x", expensive): Success(result=2)}
    first = TaskRunner(expensive).run(upstream_states=up)
    second = TaskRunner(expensive).run(upstream_states=up)
    other = TaskRunner(expensive).run(upstream_states={_edge("x", expensive): Success(result=3)})
    assert isinstance(first, Cached) and first.result == 4
    assert isinstance(second, Cached) and second.result == 4
    assert other.result == 6
    assert calls == [2, 3]
    cache_validators.clear_caches()


def test_cache_validators() -> None:
    from headwater.engine import cache_validators as cv
    from headwater.engine.results import Result
    from headwater.engine.state import Cached

    now = datetime.datetime.now(datetime.UTC)
    fresh = Cached(
        cached_inputs={"x": Result(value=1), "y": Result(value=2)},
        cached_parameters={"p": 1, "q": 2},
        cached_result_expiration=now + datetime.timedelta(minutes=1),
    )
    stale = Cached(cached_result_expiration=now - datetime.timedelta(minutes=1))
    assert cv.duration_only(fresh, {}, {}) and not cv.duration_only(stale, {}, {})
    assert not cv.never_use(fresh, {}, {})
    assert cv.all_inputs(fresh, {"x": 1, "y": 2}, {})
    assert not cv.all_inputs(fresh, {"x": 1, "y": 3}, {})
    assert cv.all_parameters(fresh, {}, {"p": 1, "q": 2})
    assert not cv.all_parameters(fresh, {}, {"p": 1})
    assert cv.partial_inputs_only(["x"])(fresh, {"x": 1, "y": 9}, {})
    assert cv.partial_parameters_only(["q"])(fresh, {}, {"q": 2})
    assert not cv.partial_parameters_only(["q"])(fresh, {}, {"q": 3})


def test_target_skips_the_run_when_the_result_exists(tmp_path: Any) -> None:
    from headwater.engine.state import Cached

    calls: list[int] = []

    @task(result=LocalResult(dir=str(tmp_path)), target="{task_name}-target.pkl")
    def produce() -> int:
        calls.append(1)
        return 11

    with context(checkpointing=True):
        first = TaskRunner(produce).run()
        second = TaskRunner(produce).run()
    assert first.result == 11 and (tmp_path / "produce-target.pkl").exists()
    assert isinstance(second, Cached) and second.result == 11
    assert calls == [1]


def test_a_state_handler_may_raise_a_signal_to_choose_the_state() -> None:
    def skip_instead(t: Task, old: State, new: State) -> None:
        if new.is_running():
            raise signals.SKIP("handler says skip")

    state = TaskRunner(Task(name="t", state_handlers=[skip_instead])).run()
    assert isinstance(state, Skipped) and state.message == "handler says skip"


def test_an_engine_error_fails_only_that_task() -> None:
    from headwater import flatten

    up = {Edge(Task(name="up"), add, key="x", flattened=True): Success(result=5)}
    state = TaskRunner(add).run(upstream_states=up, constants={"y": 1})
    assert isinstance(state, Failed)
    assert "Unexpected error while running task 'add'" in (state.message or "")
    assert flatten  # the public annotation builds the same kind of edge
