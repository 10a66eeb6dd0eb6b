"""wait_for_flow_run, get_task_run_result and the push-based waiting under them, against a
real server and agent (SQLite and PostgreSQL).

Covers reference section 11 (TestWaitForFlowRun, TestGetTaskRunResult) and the issue's
points: streaming with the `Flow '<name>': ` prefix in order without loss or repeats,
raise_final_state, results read through the server with no shared filesystem (the agent
has its own HEADWATER_HOME), mapped results, clear errors, timeouts, wake-up latency, and
reconnecting after the server restarts mid-wait.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from support import flow_of_flows as harness

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def _ok(run: dict[str, Any]) -> None:
    assert run["state_type"] == "Success", (run["state_type"], run["state_message"])


# -- wait_for_flow_run ---------------------------------------------------------------------


def test_wait_streams_states_and_logs_with_prefix_in_order(fof: harness.Stack) -> None:
    # The child naps, so it is still running when the parent starts waiting (a run that
    # already finished is reported with one "finished" line, as in Prefect 1).
    parent = fof.run("fof-wait", flow_name="fof-sleepy", params={"seconds": 2})
    _ok(parent)
    child_id = fof.result(parent["id"], "out")
    child = fof.client.get_flow_run(child_id)
    prefix = f"Flow '{child['name']}': "
    final = f"{prefix}Entered state <Success>"
    rows = [
        row for row in fof.logs_rows(parent["id"], until=final) if row["message"].startswith(prefix)
    ]
    relayed = [row["message"][len(prefix) :] for row in rows]
    states = [m for m in relayed if m.startswith("Entered state <")]
    history = [row["state"]["type"] for row in fof.client.get_flow_run_states(child_id)]
    seen = [s.split("<", 1)[1].split(">", 1)[0] for s in states]
    # Every state from the moment the wait began is relayed once, in order, to the end.
    assert seen == history[len(history) - len(seen) :] and seen[-1] == "Success"
    assert len(seen) >= 2
    lines = [m for m in relayed if not m.startswith("Entered state <")]
    assert lines.count("napping 2") == 1
    assert lines.count("woke after 2") == 1
    assert lines.index("napping 2") < lines.index("woke after 2")
    assert fof.result(parent["id"], "state-of") == "Success"
    levels = {row["message"][len(prefix) :]: row["level"] for row in rows}
    assert levels["woke after 2"] == "WARNING"
    assert levels["napping 2"] == "INFO"


def test_wait_returns_view_of_failed_child_without_raising(fof: harness.Stack) -> None:
    parent = fof.run("fof-wait", flow_name="fof-fail", stream_logs=False)
    _ok(parent)
    assert fof.result(parent["id"], "state-of") == "Failed"


def test_wait_raise_final_state_fails_parent(fof: harness.Stack) -> None:
    parent = fof.run("fof-wait", flow_name="fof-fail", raise_final_state=True)
    assert parent["state_type"] == "Failed"
    waiter = fof.task_run(parent["id"], "wait_for_flow_run")
    child_id = fof.result(parent["id"], "out")
    assert waiter["state_message"].startswith(f"{child_id} finished in state <Failed")


def test_wait_raise_final_state_success(fof: harness.Stack) -> None:
    parent = fof.run("fof-wait", raise_final_state=True)
    _ok(parent)
    waiter = fof.task_run(parent["id"], "wait_for_flow_run")
    assert "finished in state <Success" in waiter["state_message"]


def test_wait_task_in_this_process_returns_latest_view(fof: harness.Stack) -> None:
    from headwater.backend import FlowRunView
    from headwater.tasks.headwater import wait_for_flow_run

    child_id = fof.start("fof-child", x=4)
    with harness.api_env(fof.server.api_url):
        view = wait_for_flow_run.run(child_id, stream_states=False)
    assert isinstance(view, FlowRunView)
    assert view.flow_run_id == child_id
    assert view.state.is_successful()


def test_wait_max_duration(fof: harness.Stack) -> None:
    from headwater.tasks.headwater import wait_for_flow_run

    child_id = fof.start("fof-sleepy", seconds=30)
    try:
        with harness.api_env(fof.server.api_url):
            for streams in (True, False):
                with pytest.raises(RuntimeError, match=r"timed out after 0\.0 hours"):
                    wait_for_flow_run.run(
                        child_id, stream_states=streams, max_duration=timedelta(seconds=1)
                    )
    finally:
        fof.client.cancel_flow_run(child_id)


# -- get_task_run_result -------------------------------------------------------------------


def test_result_of_unmapped_task_through_the_server(fof: harness.Stack) -> None:
    parent = fof.run("fof-result", params={"x": 9})
    _ok(parent)
    assert fof.result(parent["id"], "out") == 81
    child_id = fof.result(parent["id"], "out2")
    row = fof.task_run(child_id, "square-result")
    assert row["state"]["result"]["type"] == "ServerResult"
    import os

    # The agent (and so the child) wrote under its own home, not this process's.
    assert os.environ["HEADWATER_HOME"] != fof.agent_home


@pytest.mark.parametrize(("map_index", "expected"), [(-1, [10, 20, 30]), (1, 20), (0, 10)])
def test_result_of_mapped_task(fof: harness.Stack, map_index: int, expected: Any) -> None:
    parent = fof.run("fof-result", flow_name="fof-mapped", slug="each", map_index=map_index)
    _ok(parent)
    assert fof.result(parent["id"], "out") == expected


@pytest.mark.parametrize(
    ("flow_name", "slug", "message"),
    [
        ("fof-fail", "boom", "failed"),
        ("fof-unsaved", "unsaved", "never written"),
        ("fof-child", "no-such-task", "No task runs found"),
    ],
)
def test_result_errors_are_clear(
    fof: harness.Stack, flow_name: str, slug: str, message: str
) -> None:
    parent = fof.run("fof-result", flow_name=flow_name, slug=slug)
    assert parent["state_type"] == "Failed"
    getter = fof.task_run(parent["id"], "get_task_run_result")
    assert message in getter["state_message"]


def test_result_timeout(fof: harness.Stack) -> None:
    from headwater.tasks.headwater import get_task_run_result

    child_id = fof.start("fof-sleepy", seconds=30)
    try:
        with harness.api_env(fof.server.api_url):
            started = time.monotonic()
            with pytest.raises(TimeoutError, match="Gave up waiting after 1 s"):
                get_task_run_result.run(child_id, "nap", timeout=1)
            assert time.monotonic() - started < 5
    finally:
        fof.client.cancel_flow_run(child_id)


# -- push-based waiting --------------------------------------------------------------------


def test_waiting_wakes_up_right_after_the_final_state(fof: harness.Stack) -> None:
    from headwater.tasks.headwater._handles import ChildRun

    delays = []
    for _ in range(3):
        child_id = fof.start("fof-child")
        view = ChildRun(child_id, client=fof.client).wait(timeout=60)
        returned = datetime.now().astimezone()
        assert view.state.is_successful()
        final = datetime.fromisoformat(fof.client.get_flow_run(child_id)["state_timestamp"])
        delays.append((returned - final).total_seconds())
    assert sorted(delays)[1] < 0.5, delays


def test_watch_already_finished_run(fof: harness.Stack) -> None:
    from headwater.backend import watch_flow_run

    run = fof.run("fof-child")
    records = list(watch_flow_run(run["id"], client=fof.client))
    assert len(records) == 1
    assert records[0].message.startswith("Your flow run finished")
    assert list(watch_flow_run(run["id"], stream_states=False, client=fof.client)) == []


def test_watch_survives_a_server_restart(fof: harness.Stack) -> None:
    from headwater.backend import watch_flow_run

    child_id = fof.start("fof-sleepy", seconds=4)
    records: list[str] = []
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            for record in watch_flow_run(child_id, stream_logs=True, client=fof.client):
                records.append(record.message)
        except BaseException as exc:
            errors.append(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    deadline = time.monotonic() + 30
    while "Entered state <Running>" not in records and time.monotonic() < deadline:
        time.sleep(0.02)
    fof.server.restart()
    watcher.join(60)
    assert not watcher.is_alive()
    assert not errors, errors
    states = [r for r in records if r.startswith("Entered state <")]
    assert len(states) == len(set(states)), states
    assert states[-1].startswith("Entered state <Success>")
    history = [row["state"]["type"] for row in fof.client.get_flow_run_states(child_id)]
    assert [s.split("<", 1)[1].split(">", 1)[0] for s in states] == history


def test_watch_warns_when_no_agent_picks_the_run_up(fof: harness.Stack) -> None:
    from headwater.backend import watch_flow_run

    run_id = fof.client.create_flow_run(flow_id=fof.flow_ids["fof-child"], labels=["nowhere"])
    records = []
    try:
        with pytest.raises(RuntimeError, match="timed out after"):
            for record in watch_flow_run(
                run_id, max_duration=timedelta(seconds=16.5), client=fof.client
            ):
                records.append(record)
    finally:
        fof.client.cancel_flow_run(run_id)
    warnings = [r for r in records if r.level == 30]
    assert len(warnings) == 1, records
    assert "seconds and your flow run has not been submitted by an agent" in warnings[0].message
    assert "none has the labels 'nowhere'" in warnings[0].message
