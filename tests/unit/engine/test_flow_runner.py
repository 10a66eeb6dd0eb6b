"""Running whole flows: final states, context, retries, timeouts, handlers and hooks."""

from __future__ import annotations

import datetime
import threading
import uuid
from typing import Any

import pytest

from headwater import Flow, Parameter, Task, context, task, triggers
from headwater.engine import signals
from headwater.engine.flow_runner import FlowRunner
from headwater.engine.state import Failed, Pending, Running, State, Success, TimedOut
from headwater.engine.task_runner import TaskRunner
from headwater.executors import LocalDaskExecutor


@task
def inc(x: int) -> int:
    return x + 1


@task
def boom(x: Any = None) -> None:
    raise RuntimeError("boom")


def test_flow_run_returns_success_with_every_task_state() -> None:
    with Flow("chain") as flow:
        a = inc(1)
        b = inc(a)
    state = flow.run()
    assert isinstance(state, Success)
    assert state.message == "All reference tasks succeeded."
    assert state.result[a].result == 2 and state.result[b].result == 3
    assert set(state.result) == {a, b}


def test_reference_task_failure_fails_the_flow_and_downstream_trigger_fails() -> None:
    with Flow("failing") as flow:
        a = boom()
        b = inc(a)
        c = inc(1)
    state = flow.run()
    assert isinstance(state, Failed) and state.message == "Some reference tasks failed."
    assert state.result[a].message == "Error during execution of task: RuntimeError('boom')"
    assert type(state.result[b]).__name__ == "TriggerFailed"
    assert state.result[c].is_successful()
    flow.set_reference_tasks([c])
    assert flow.run().is_successful()


def test_empty_flow_succeeds() -> None:
    assert Flow("empty").run().is_successful()


def test_run_context_defaults_and_overrides() -> None:
    @task
    def read() -> dict[str, Any]:
        keys = (
            "flow_name", "flow_run_id", "flow_run_name", "task_run_id", "task_name",
            "task_slug", "task_full_name", "map_index", "task_run_count", "parameters",
            "scheduled_start_time", "running_with_backend", "today", "date",
        )  # fmt: skip
        values = {k: context.get(k) for k in keys}
        values["logger"] = context.logger
        return values

    with Flow("ctx") as flow:
        Parameter("p", default=1)
        r = read()
    got = flow.run().result[r].result
    assert got["flow_name"] == "ctx" and got["task_name"] == "read"
    assert got["task_slug"] == "read-1" and got["task_full_name"] == "read"
    assert got["map_index"] is None and got["task_run_count"] == 1
    assert got["parameters"] == {"p": 1} and got["running_with_backend"] is False
    uuid.UUID(got["flow_run_id"])
    uuid.UUID(got["flow_run_name"])
    uuid.UUID(got["task_run_id"])
    assert isinstance(got["scheduled_start_time"], datetime.datetime)
    assert got["today"] == got["date"].strftime("%Y-%m-%d")
    assert got["logger"].name == "headwater.read"
    again = flow.run(context={"flow_run_name": "mine", "flow_run_id": "id-1", "extra": 1})
    got2 = again.result[r].result
    assert got2["flow_run_name"] == "mine" and got2["flow_run_id"] == "id-1"
    assert got["flow_run_id"] != flow.run().result[r].result["flow_run_id"]


def test_retries_rerun_in_process_with_stable_task_run_id() -> None:
    seen: list[tuple[int, str]] = []

    @task(max_retries=2, retry_delay=datetime.timedelta(milliseconds=50))
    def flaky() -> str:
        seen.append((context.task_run_count, context.task_run_id))
        if context.task_run_count < 3:
            raise ValueError("not yet")
        return "done"

    with Flow("retries") as flow:
        f = flaky()
        after = inc(1, upstream_tasks=[f])
    state = flow.run()
    assert state.is_successful()
    assert state.result[f].result == "done" and state.result[after].result == 2
    assert [count for count, _ in seen] == [1, 2, 3]
    assert len({run_id for _, run_id in seen}) == 1


def test_retries_exhausted_fail_the_flow() -> None:
    @task(max_retries=1, retry_delay=datetime.timedelta(0))
    def always() -> None:
        raise ValueError("always")

    with Flow("exhausted") as flow:
        a = always()
    state = flow.run()
    assert state.is_failed() and type(state.result[a]) is Failed


def test_retry_signal_reruns_the_task() -> None:
    @task
    def once() -> int:
        if context.task_run_count == 1:
            raise signals.RETRY("again", start_time=datetime.datetime.now(datetime.UTC))
        return context.task_run_count

    with Flow("retry-signal") as flow:
        t = once()
    assert flow.run().result[t].result == 2


def test_timeout_ends_timed_out_and_the_flow_goes_on() -> None:
    release = threading.Event()

    @task(timeout=0.2)
    def slow() -> None:
        release.wait(10)

    with Flow("timeouts") as flow:
        s = slow()
        other = inc(1)
        after = inc(2, upstream_tasks=[s])
    try:
        state = flow.run()
    finally:
        release.set()
    assert isinstance(state.result[s], TimedOut)
    assert state.result[other].result == 2
    assert type(state.result[after]).__name__ == "TriggerFailed"
    assert state.is_failed()


def test_flow_state_handlers_see_the_flow_transitions() -> None:
    seen: list[tuple[str, str]] = []

    def handler(flow: Flow, old: State, new: State) -> None:
        seen.append((type(old).__name__, type(new).__name__))

    with Flow("handled", state_handlers=[handler]) as flow:
        inc(1)
    flow.run()
    assert seen == [("Pending", "Running"), ("Running", "Success")]


def test_paused_task_leaves_the_flow_running() -> None:
    with Flow("paused") as flow:
        a = inc(1)
        b = inc.copy(trigger=triggers.manual_only)(a)
    state = flow.run()
    assert isinstance(state, Running) and type(state.result[b]).__name__ == "Paused"


def test_signals_from_tasks_shape_the_flow() -> None:
    @task
    def skipper() -> None:
        raise signals.SKIP("nothing to do")

    with Flow("skips") as flow:
        s = skipper()
        after = inc(1, upstream_tasks=[s])
    state = flow.run()
    assert state.is_successful()
    assert state.result[s].is_skipped() and state.result[after].is_skipped()


def test_finished_task_states_are_reused() -> None:
    calls: list[int] = []

    @task
    def counted() -> int:
        calls.append(1)
        return 1

    with Flow("reuse") as flow:
        a = counted()
        b = inc(a)
    state = flow.run(task_states={a: Success(result=10)})
    assert calls == [] and state.result[b].result == 11


def test_return_tasks_limit_the_result() -> None:
    with Flow("subset") as flow:
        a = inc(1)
        b = inc(a)
    state = FlowRunner(flow).run(return_tasks=[b])
    assert set(state.result) == {b}


def test_a_finished_flow_state_is_returned_unchanged() -> None:
    with Flow("done") as flow:
        inc(1)
    done = Success("already")
    assert FlowRunner(flow).run(state=done) is done


def test_runner_hooks_are_called_for_every_state_change() -> None:
    task_changes: list[tuple[str, str, str]] = []
    flow_changes: list[str] = []
    initialized: list[str] = []

    class RecordingTaskRunner(TaskRunner):
        def initialize_run(self, state: Any, context: dict[str, Any]) -> Any:
            initialized.append(self.task.slug or "")
            context["task_run_id"] = f"run-{self.task.slug}"
            return super().initialize_run(state, context)

        def call_runner_target_handlers(self, old: State, new: State) -> State:
            new = super().call_runner_target_handlers(old, new)
            task_changes.append((self.task.slug or "", type(old).__name__, type(new).__name__))
            return new

    class RecordingFlowRunner(FlowRunner):
        def call_runner_target_handlers(self, old: State, new: State) -> State:
            flow_changes.append(type(new).__name__)
            return super().call_runner_target_handlers(old, new)

    @task
    def rid() -> str:
        return str(context.task_run_id)

    with Flow("hooks") as flow:
        a = rid()
        inc.map([1, 2])
    state = RecordingFlowRunner(flow, task_runner_cls=RecordingTaskRunner).run()
    assert state.result[a].result == "run-rid-1"
    assert flow_changes == ["Running", "Success"]
    assert sorted(initialized) == sorted(["rid-1", "Constant[list]-1", "inc-1", "inc-1", "inc-1"])
    assert ("inc-1", "Pending", "Mapped") in task_changes
    assert task_changes.count(("inc-1", "Running", "Success")) == 2
    assert ("rid-1", "Pending", "Running") in task_changes


def test_a_refusing_backend_hook_aborts_the_run() -> None:
    class Refused(Exception):
        pass

    class RefusingFlowRunner(FlowRunner):
        def call_runner_target_handlers(self, old: State, new: State) -> State:
            if new.is_finished():
                raise Refused("no")
            return super().call_runner_target_handlers(old, new)

    with Flow("refused") as flow:
        inc(1)
    with pytest.raises(Refused):
        RefusingFlowRunner(flow).run()


def test_local_dask_executor_gives_the_same_states() -> None:
    with Flow("dask") as flow:
        a = inc(1)
        b = inc.map([a, a, 3])
        c = boom(a)
    local = flow.run()
    threaded = flow.run(executor=LocalDaskExecutor(scheduler="threads", num_workers=2))
    for st in (local, threaded):
        assert st.result[a].result == 2
        assert st.result[b].result == [3, 3, 4]
        assert st.result[c].is_failed()
        assert st.is_failed()


def test_flow_executor_option_is_used() -> None:
    used: list[str] = []

    class Spy(LocalDaskExecutor):
        def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            used.append("submit")
            return super().submit(fn, *args, **kwargs)

    with Flow("exec", executor=Spy(scheduler="threads", num_workers=1)) as flow:
        inc(1)
    assert flow.run().is_successful() and used


def test_task_exception_in_pending_flow_state_is_kept_pending_for_unfinished() -> None:
    # A task whose upstream never finishes stays Pending (here: a paused upstream).
    with Flow("pending") as flow:
        a = Task(name="gate", trigger=triggers.manual_only)
        flow.add_edge(inc(1), a)
        b = inc(2, upstream_tasks=[a])
    state = flow.run()
    assert isinstance(state.result[b], Pending)


def test_a_cyclic_flow_fails_before_any_state_change() -> None:
    seen: list[str] = []
    flow = Flow("cycle", state_handlers=[lambda f, o, n: seen.append(type(n).__name__)])
    a, b = Task(name="a"), Task(name="b")
    flow.add_edge(a, b)
    flow.add_edge(b, a)
    with pytest.raises(ValueError, match="cycle among the tasks: a-1, b-1"):
        FlowRunner(flow).run()
    assert seen == []


def test_flow_runs_log_their_start_end_and_task_errors(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with Flow("logged") as flow:
        boom()
    root = logging.getLogger("headwater")
    old = root.propagate
    root.propagate = True  # let pytest's handler on the root logger see the records
    try:
        with caplog.at_level(logging.INFO):
            flow.run()
    finally:
        root.propagate = old
    text = caplog.text
    assert "Beginning Flow run for 'logged'" in text
    assert "Task 'boom': Starting task run..." in text
    assert "Task 'boom': Finished task run for task with final state: 'Failed'" in text
    assert "Task 'boom': exception raised during execution" in text
    assert "RuntimeError: boom" in text
    assert "Flow run FAILED: some reference tasks failed." in text


def test_an_executor_that_breaks_fails_the_flow_run() -> None:
    from headwater.executors import LocalExecutor

    class Broken(LocalExecutor):
        def wait(self, futures: Any) -> Any:
            raise OSError("worker lost")

    with Flow("broken") as flow:
        inc(1)
    state = flow.run(executor=Broken())
    assert isinstance(state, Failed)
    assert state.message == "Unexpected error while running flow: OSError('worker lost')"


def test_flow_runner_and_task_runner_handlers_stay_apart() -> None:
    flow_seen: list[Any] = []
    task_seen: list[Any] = []
    with Flow("apart") as flow:
        inc(1)
    runner = FlowRunner(flow, state_handlers=[lambda r, o, n: flow_seen.append(r)])
    runner.run(task_runner_state_handlers=[lambda r, o, n: task_seen.append(type(r))])
    assert flow_seen == [runner, runner]
    assert task_seen == [TaskRunner, TaskRunner]


def test_task_contexts_add_values_for_one_task() -> None:
    @task
    def read() -> Any:
        return context.get("extra")

    with Flow("task-contexts") as flow:
        a = read()
        b = read()
    state = flow.run(task_contexts={a: {"extra": "for a"}})
    assert state.result[a].result == "for a" and state.result[b].result is None


def test_task_logger_matches_the_run_logger() -> None:
    @task
    def named() -> str:
        return str(context.logger.name)

    with Flow("loggers") as flow:
        n = named()
    assert flow.run().result[n].result == named.logger.name == "headwater.named"


def test_raise_on_exception_surfaces_the_task_error() -> None:
    from headwater.utilities.debug import raise_on_exception

    with Flow("debug") as flow:
        boom()
    assert flow.run().is_failed()
    with raise_on_exception(), pytest.raises(RuntimeError, match="boom"):
        flow.run()


def test_a_resumed_manual_only_task_runs() -> None:
    from headwater.engine.state import Paused, Resume

    with Flow("approval") as flow:
        data = inc(1)
        published = inc.copy(trigger=triggers.manual_only)(data)
    first = FlowRunner(flow).run(return_tasks=[published])
    assert isinstance(first.result[published], Paused) and first.is_running()
    second = FlowRunner(flow).run(task_states={published: Resume()}, return_tasks=[published])
    assert second.is_successful() and second.result[published].result == 3


def test_result_locations_may_use_parameters_and_inputs(tmp_path: Any) -> None:
    from headwater.engine.results import LocalResult

    @task(result=LocalResult(dir=str(tmp_path), location="{flow_name}/{region}/{day}.pkl"))
    def report(region: str, day: str) -> str:
        return f"{region}-{day}"

    with Flow("partitioned") as flow:
        report(Parameter("region", default="eu"), day="2030-01-01")
    assert flow.run(context={"checkpointing": True}).is_successful()
    assert (tmp_path / "partitioned" / "eu" / "2030-01-01.pkl").exists()


def test_default_executor_and_runner_come_from_configuration() -> None:
    from headwater.utilities.configuration import set_temporary_config

    with Flow("configured") as flow:
        inc(1)
    spec = {
        "engine.executor.default_class": "headwater.executors.LocalDaskExecutor",
        "engine.flow_runner.default_class": "headwater.engine.flow_runner.FlowRunner",
    }
    with set_temporary_config(spec):
        assert flow.run().is_successful()
    with set_temporary_config({"engine.executor.default_class": "nowhere.Executor"}):
        with pytest.raises(ValueError, match=r"engine.executor.default_class = 'nowhere"):
            flow.run()


def test_flow_on_failure_and_terminal_state_handler() -> None:
    calls: list[tuple[str, str]] = []

    def failed(flow: Flow, state: State) -> None:
        calls.append((flow.name, type(state).__name__))

    def lenient(flow: Flow, state: State, reference_states: set[State]) -> State | None:
        assert all(isinstance(s, State) for s in reference_states)
        return Success("tolerated") if state.is_failed() else None

    with Flow("callbacks", on_failure=failed) as flow:
        boom()
    assert flow.run().is_failed() and calls == [("callbacks", "Failed")]
    with Flow("lenient", terminal_state_handler=lenient) as tolerant:
        b = boom()
        ok = inc(1)
    state = tolerant.run()
    assert state.is_successful() and state.message == "tolerated"
    assert state.result[b].is_failed() and state.result[ok].result == 2
    with pytest.raises(TypeError, match=r"is not callable"):
        Flow("bad", terminal_state_handler=3)  # type: ignore[arg-type]
