"""Validation of the flow-of-flows tasks that happens before any network call.

These tests need no server: every case raises (or decides) before the client is used.
The behaviour against a real server and agent is covered in tests/e2e/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import headwater
from headwater.core.task import Task
from headwater.engine import signals, state
from headwater.tasks.headwater import (
    CancelFlowRun,
    RenameFlowRun,
    StartFlowRun,
    create_flow_run,
    get_task_run_result,
    wait_for_flow_run,
)
from headwater.tasks.headwater._common import (
    default_idempotency_key,
    lineage,
    raise_mirrored,
    resolve_start_time,
)

# An address nothing listens on: a test that reached the network would fail loudly.
UNREACHABLE = "http://127.0.0.1:9/api"


@pytest.fixture(autouse=True)
def _no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_API_URL", UNREACHABLE)


def test_public_names() -> None:
    import headwater.tasks.headwater as module

    assert sorted(module.__all__) == [
        "CancelFlowRun",
        "RenameFlowRun",
        "StartFlowRun",
        "create_flow_run",
        "get_task_run_result",
        "wait_for_flow_run",
    ]
    from headwater.tasks.headwater.flow_run import StartFlowRun as Same

    assert Same is StartFlowRun


class TestCreateFlowRun:
    def test_does_not_accept_both_id_and_name(self) -> None:
        with pytest.raises(ValueError, match="Received both `flow_id` and `flow_name`"):
            create_flow_run.run(flow_id="a", flow_name="b")

    def test_requires_id_or_name(self) -> None:
        with pytest.raises(ValueError, match="`flow_id` and `flow_name` are null"):
            create_flow_run.run()

    def test_empty_strings_count_as_missing(self) -> None:
        with pytest.raises(ValueError, match="are null"):
            create_flow_run.run(flow_id="", flow_name="")

    def test_bad_start_time_type(self) -> None:
        with pytest.raises(TypeError, match="`scheduled_start_time` must be a datetime"):
            create_flow_run.run(flow_name="x", scheduled_start_time="tomorrow")


class TestGetTaskRunResult:
    def test_requires_task_slug(self) -> None:
        with pytest.raises(ValueError, match="`task_slug` is empty"):
            get_task_run_result.run("some-id", "")

    def test_does_not_allow_current_flow_run(self) -> None:
        with (
            headwater.context(flow_run_id="me"),
            pytest.raises(
                ValueError, match="`flow_run_id` is the same as the currently running flow"
            ),
        ):
            get_task_run_result.run("me", "task-1")


class TestStartFlowRunInit:
    def test_initialization(self) -> None:
        when = datetime(2030, 1, 1, tzinfo=UTC)
        task = StartFlowRun(
            flow_name="child",
            project_name="p",
            parameters={"a": 1},
            run_config=None,
            wait=True,
            new_flow_context={"c": 2},
            run_name="r",
            scheduled_start_time=when,
            poll_interval=timedelta(seconds=3),
            wait_timeout=timedelta(seconds=5),
            max_retries=2,
            retry_delay=timedelta(seconds=1),
        )
        assert task.flow_name == "child"
        assert task.project_name == "p"
        assert task.parameters == {"a": 1}
        assert task.wait is True
        assert task.new_flow_context == {"c": 2}
        assert task.run_name == "r"
        assert task.scheduled_start_time == when
        assert task.poll_interval == timedelta(seconds=3)
        assert task.wait_timeout == 5
        assert task.max_retries == 2
        assert task.name == "Flow child"

    def test_explicit_name_wins(self) -> None:
        assert StartFlowRun(flow_name="child", name="kickoff").name == "kickoff"

    def test_errors_if_tasks_passed_to_parameters(self) -> None:
        with pytest.raises(TypeError, match="An instance of `Task` was passed"):
            StartFlowRun(flow_name="child", parameters={"x": Task()})

    def test_poll_interval_too_short(self) -> None:
        with pytest.raises(ValueError, match="at least 3 seconds"):
            StartFlowRun(flow_name="child", poll_interval=timedelta(seconds=2))

    def test_poll_interval_checked_even_without_wait(self) -> None:
        with pytest.raises(ValueError, match="poll_interval"):
            StartFlowRun(flow_name="child", wait=False, poll_interval=timedelta(seconds=1))

    def test_poll_interval_of_three_seconds_is_accepted(self) -> None:
        assert StartFlowRun(poll_interval=timedelta(seconds=3)).poll_interval.total_seconds() == 3

    def test_poll_interval_in_seconds(self) -> None:
        assert StartFlowRun(poll_interval=4).poll_interval == timedelta(seconds=4)

    def test_poll_interval_of_wrong_type(self) -> None:
        with pytest.raises(TypeError, match="`poll_interval` must be a timedelta"):
            StartFlowRun(poll_interval="10s")  # type: ignore[arg-type]

    def test_wait_timeout_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="`wait_timeout` must be positive"):
            StartFlowRun(wait_timeout=0)


class TestStartFlowRunValidation:
    def test_without_flow_name(self) -> None:
        with pytest.raises(ValueError, match=r"Must provide a flow name\."):
            StartFlowRun().run()

    def test_explicit_none_at_run_time_wins(self) -> None:
        with pytest.raises(ValueError, match=r"Must provide a flow name\."):
            StartFlowRun(flow_name="child").run(flow_name=None)


class TestRenameFlowRun:
    def test_initialization(self) -> None:
        task = RenameFlowRun(flow_run_id="id", flow_run_name="name", name="rename")
        assert (task.flow_run_id, task.flow_run_name, task.name) == ("id", "name", "rename")

    def test_missing_flow_run_id(self) -> None:
        with pytest.raises(
            ValueError,
            match="`flow_run_id` must be explicitly provided or available in the context",
        ):
            RenameFlowRun(flow_run_name="new").run()

    def test_missing_flow_run_name(self) -> None:
        with pytest.raises(ValueError, match=r"Must provide a flow name\."):
            RenameFlowRun(flow_run_id="id").run()

    def test_missing_name_with_id_from_context(self) -> None:
        with headwater.context(flow_run_id="ctx"), pytest.raises(ValueError, match="flow name"):
            RenameFlowRun().run()


class TestCancelFlowRun:
    def test_initialization(self) -> None:
        task = CancelFlowRun(flow_run_id="id", cascade=False)
        assert (task.flow_run_id, task.cascade) == ("id", False)

    def test_missing_flow_run_id(self) -> None:
        with pytest.raises(ValueError, match=r"Can't cancel a flow run without flow run ID\."):
            CancelFlowRun().run()


class TestHelpers:
    def test_key_is_none_without_context(self) -> None:
        assert default_idempotency_key() is None

    def test_key_from_task_run_id(self) -> None:
        with headwater.context(task_run_id="tr", map_index=None):
            assert default_idempotency_key() == "tr"

    def test_key_from_map_index(self) -> None:
        with headwater.context(task_run_id="tr", map_index=3):
            assert default_idempotency_key() == "tr-3"

    def test_lineage_only_with_backend(self) -> None:
        with headwater.context(flow_run_id="f", task_run_id="t"):
            assert lineage() == (None, None)
        with headwater.context(flow_run_id="f", task_run_id="t", running_with_backend=True):
            assert lineage() == ("f", "t")

    def test_start_time_from_delay(self) -> None:
        before = datetime.now(UTC)
        when = resolve_start_time(timedelta(minutes=5))
        assert when is not None
        assert before + timedelta(minutes=5) <= when <= datetime.now(UTC) + timedelta(minutes=5)

    def test_start_time_passes_datetimes_through(self) -> None:
        when = datetime(2030, 1, 1, tzinfo=UTC)
        assert resolve_start_time(when) is when
        assert resolve_start_time(None) is None

    @pytest.mark.parametrize(
        ("child", "signal"),
        [
            (state.Success("ok"), signals.SUCCESS),
            (state.Failed("bad"), signals.FAIL),
            (state.TriggerFailed("t"), signals.TRIGGERFAIL),
            (state.ValidationFailed("v"), signals.VALIDATIONFAIL),
            (state.Skipped("s"), signals.SKIP),
        ],
    )
    def test_mirrors_final_states(
        self, child: state.State, signal: type[signals.HeadwaterStateSignal]
    ) -> None:
        with pytest.raises(signal) as caught:
            raise_mirrored(child, "run-1", "parent-child", result="run-1")
        assert type(caught.value) is signal
        assert str(caught.value).startswith("run-1 finished in state <")
        assert caught.value.state.result == "run-1"

    @pytest.mark.parametrize("child", [state.Cancelled("stop"), state.TimedOut("slow")])
    def test_cancelled_and_timed_out_fail_with_clear_message(self, child: state.State) -> None:
        with pytest.raises(signals.FAIL) as caught:
            raise_mirrored(child, "run-1", "parent-child", result="run-1")
        assert type(caught.value) is signals.FAIL
        text = str(caught.value)
        assert "'parent-child' (run-1)" in text
        assert type(child).__name__ in text


def test_wait_for_flow_run_is_a_task() -> None:
    assert isinstance(wait_for_flow_run, Task)
    assert isinstance(create_flow_run, Task)
    assert isinstance(get_task_run_result, Task)
