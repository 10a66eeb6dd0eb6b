"""create_flow_run, StartFlowRun, RenameFlowRun and CancelFlowRun against a real server
and agent: parents and children are registered flows that the agent runs as processes.

Ports every behaviour of Prefect 1's task tests (reference section 11) that these tasks
have, plus Headwater's deviations: lineage, map-index keys for StartFlowRun, optional
project, child-id result with wait=True, Cancelled children failing the waiter, bool
CancelFlowRun with cascading cancellation, exactly-once creation.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headwater.testing_agent import wait_for_flow_run_state
from support import flow_of_flows as harness

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# Slug prefixes of StartFlowRun tasks: "Flow <name>" when the flow is named at init.
STARTER = ("StartFlowRun", "Flow")


def _ok(run: dict[str, Any]) -> None:
    assert run["state_type"] == "Success", (run["state_type"], run["state_message"])


# -- create_flow_run -----------------------------------------------------------------------


def test_create_by_name_names_child_records_lineage_and_key(fof: harness.Stack) -> None:
    parent = fof.run("fof-create", params={"x": 5})
    _ok(parent)
    child_id = fof.result(parent["id"], "out")
    child = wait_for_flow_run_state(fof.client, child_id, timeout=60)
    _ok(child)
    assert child["name"] == f"{parent['name']}-fof-child"
    assert child["parameters"]["x"] == 5
    creator = fof.task_run(parent["id"], "create_flow_run")
    assert child["parent_flow_run_id"] == parent["id"]
    assert child["parent_task_run_id"] == creator["id"]
    assert child["idempotency_key"] == creator["id"]
    assert [c["id"] for c in fof.children(parent["id"])] == [child_id]
    assert fof.result(child_id, "square-result") == 25


def test_create_forwards_run_name_labels_and_start_time(fof: harness.Stack) -> None:
    before = datetime.now(UTC)
    parent = fof.run("fof-create", run_name="explicit-name", labels=["nowhere"], delay_seconds=3600)
    _ok(parent)
    child = fof.client.get_flow_run(fof.result(parent["id"], "out"))
    assert child["name"] == "explicit-name"
    assert child["labels"] == ["nowhere"]
    start = datetime.fromisoformat(child["scheduled_start_time"])
    assert before + timedelta(minutes=59) < start < before + timedelta(minutes=61)
    assert child["state_type"] == "Scheduled"
    fof.client.cancel_flow_run(child["id"])


def test_create_by_flow_id_and_by_flow_group_id(fof: harness.Stack) -> None:
    flow = fof.client.get_flow(fof.flow_ids["fof-child"])
    for identifier in (flow["id"], flow["flow_group_id"]):
        parent = fof.run("fof-create-by-id", flow_id=identifier)
        _ok(parent)
        child = fof.client.get_flow_run(fof.result(parent["id"], "out"))
        assert child["flow_id"] == flow["id"]


def test_create_with_unknown_id_or_name_fails_the_task(fof: harness.Stack) -> None:
    parent = fof.run("fof-create-by-id", flow_id="00000000-0000-0000-0000-000000000000")
    assert parent["state_type"] == "Failed"
    creator = fof.task_run(parent["id"], "create_flow_run")
    assert "is not an existing flow or flow group id" in creator["state_message"]
    parent = fof.run("fof-create", flow_name="no-such-flow")
    creator = fof.task_run(parent["id"], "create_flow_run")
    assert creator["state_type"] == "Failed"
    assert "No results found while querying for flows" in creator["state_message"]


def test_create_by_name_in_two_projects_needs_a_project(fof: harness.Stack) -> None:
    fof.client.create_project("fof-other")
    harness.register_all(fof.client, "twin.py", project="fof-other")
    parent = fof.run("fof-create", flow_name="fof-twin", project_name="")
    creator = fof.task_run(parent["id"], "create_flow_run")
    assert creator["state_type"] == "Failed"
    assert "pass `project_name`" in creator["state_message"]
    _ok(fof.run("fof-create", flow_name="fof-twin", project_name="fof-other"))
    # StartFlowRun without a project follows the same rule.
    parent = fof.run("fof-start-wait", flow_name="fof-twin")
    assert parent["state_type"] == "Failed"
    assert "pass `project_name`" in fof.task_run(parent["id"], STARTER)["state_message"]


def test_mapped_create_makes_exactly_n_children_and_combines_results(
    fof: harness.Stack,
) -> None:
    parent = fof.run("fof-map", xs=[1, 2, 3, 4])
    _ok(parent)
    ids = fof.result(parent["id"], "out")
    assert len(ids) == len(set(ids)) == 4
    assert fof.result(parent["id"], "out2") == 1 + 4 + 9 + 16
    children = fof.children(parent["id"])
    assert sorted(c["id"] for c in children) == sorted(ids)
    keys = {c["idempotency_key"] for c in children}
    assert len(keys) == 4
    assert all(key.rsplit("-", 1)[1] in {"0", "1", "2", "3"} for key in keys)


def test_retried_creating_task_gets_the_same_child(fof: harness.Stack) -> None:
    parent = fof.run("fof-retry")
    _ok(parent)
    children = fof.children(parent["id"])
    assert len(children) == 1
    assert fof.result(parent["id"], "out") == children[0]["id"]
    creator = fof.task_run(parent["id"], "create-then-fail")
    assert creator["run_count"] >= 2


def test_parent_killed_and_rescheduled_gets_the_same_child(fof: harness.Stack) -> None:
    import os
    import re
    import signal

    from headwater.engine.state import Scheduled

    parent_id = fof.start("fof-parent-of-sleepy", seconds=6)

    def child_running(run: dict[str, Any]) -> bool:
        kids = fof.client.get_flow_run_children(parent_id)
        return bool(kids) and kids[0]["state_type"] == "Running"

    wait_for_flow_run_state(fof.client, parent_id, predicate=child_running, timeout=60)
    submitted = [m for m in fof.logs(parent_id) if "Submitted for execution" in m]
    pid = int(re.findall(r"PID: (\d+)", submitted[-1])[0])
    os.kill(pid, signal.SIGKILL)  # the parent's whole process dies mid-wait
    dead = wait_for_flow_run_state(fof.client, parent_id, timeout=60)
    assert dead["state_type"] == "Failed"
    fof.client.set_flow_run_state(parent_id, Scheduled("Started again after its process died."))
    wait_for_flow_run_state(
        fof.client,
        parent_id,
        predicate=lambda run: (
            run["version"] > dead["version"] + 1
            and run["state_type"] in {"Success", "Failed", "Cancelled"}
        ),
        timeout=90,
    )
    children = fof.children(parent_id)
    assert len(children) == 1, children
    assert wait_for_flow_run_state(fof.client, children[0]["id"], timeout=60)["state_type"] == (
        "Success"
    )


def test_concurrent_creates_with_one_key_make_one_run(fof: harness.Stack) -> None:
    key = f"same-key-{datetime.now(UTC).timestamp()}"
    ids: list[str] = []
    errors: list[BaseException] = []

    def create() -> None:
        from headwater.client import Client

        try:
            client = Client(api_server=fof.server.api_url)
            ids.append(
                client.create_flow_run(
                    flow_id=fof.flow_ids["fof-child"],
                    idempotency_key=key,
                    scheduled_start_time=datetime.now(UTC) + timedelta(hours=1),
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(ids) == 8 and len(set(ids)) == 1
    fof.client.cancel_flow_run(ids[0])


# -- StartFlowRun --------------------------------------------------------------------------


def test_start_flow_run_returns_child_id_with_run_time_arguments(fof: harness.Stack) -> None:
    parent = fof.run("fof-start")
    _ok(parent)
    child_id = fof.result(parent["id"], "out")
    child = wait_for_flow_run_state(fof.client, child_id, timeout=60)
    _ok(child)
    assert child["parameters"]["x"] == 3
    assert child["parent_flow_run_id"] == parent["id"]
    creator = fof.task_run(parent["id"], STARTER)
    assert child["idempotency_key"] == creator["id"]


def test_start_flow_run_not_found(fof: harness.Stack) -> None:
    parent = fof.run("fof-start", flow_name="nope")
    assert parent["state_type"] == "Failed"
    assert "Flow 'nope' not found." in fof.task_run(parent["id"], STARTER)["state_message"]


def test_start_flow_run_wait_result_is_child_id(fof: harness.Stack) -> None:
    parent = fof.run("fof-start-wait", flow_name="fof-mapped")
    _ok(parent)
    child_id = fof.result(parent["id"], "out")
    child = fof.client.get_flow_run(child_id)
    assert child["state_type"] == "Success"
    assert child["parent_flow_run_id"] == parent["id"]


def test_start_flow_run_wait_mirrors_failed_child(fof: harness.Stack) -> None:
    parent = fof.run("fof-start-wait", flow_name="fof-fail")
    assert parent["state_type"] == "Failed"
    waiter = fof.task_run(parent["id"], STARTER)
    assert waiter["state_type"] == "Failed"
    assert "finished in state <Failed" in waiter["state_message"]


def test_start_flow_run_wait_timeout(fof: harness.Stack) -> None:
    parent = fof.run("fof-start-wait-timeout")
    assert parent["state_type"] == "Failed"
    waiter = fof.task_run(parent["id"], STARTER)
    assert "Gave up waiting after 1.5 s" in waiter["state_message"]
    for child in fof.children(parent["id"]):
        fof.client.cancel_flow_run(child["id"])


def test_start_flow_run_wait_on_cancelled_child_fails_with_clear_message(
    fof: harness.Stack,
) -> None:
    from headwater.client import Client

    parent_id = fof.start("fof-start-wait", flow_name="fof-sleepy", params={"seconds": 60})
    client = Client(api_server=fof.server.api_url)

    def child_running(run: dict[str, Any]) -> bool:
        kids = client.get_flow_run_children(parent_id)
        return bool(kids) and kids[0]["state_type"] == "Running"

    wait_for_flow_run_state(client, parent_id, predicate=child_running, timeout=60)
    child = client.get_flow_run_children(parent_id)[0]
    client.cancel_flow_run(child["id"], cascade=False)
    parent = wait_for_flow_run_state(client, parent_id, timeout=60)
    assert parent["state_type"] == "Failed"
    message = fof.task_run(parent_id, STARTER)["state_message"]
    assert child["id"] in message and "Cancelled" in message


def test_mapped_start_flow_run_makes_one_child_per_index(fof: harness.Stack) -> None:
    parent = fof.run("fof-start-map", xs=[1, 2, 3])
    _ok(parent)
    ids = fof.result(parent["id"], "out")
    assert len(set(ids)) == 3
    assert len(fof.children(parent["id"])) == 3


# -- RenameFlowRun / CancelFlowRun ---------------------------------------------------------


def test_rename_defaults_to_current_run_and_unknown_id_is_false(fof: harness.Stack) -> None:
    parent = fof.run("fof-rename", other_id="00000000-0000-0000-0000-000000000000")
    _ok(parent)
    assert fof.result(parent["id"], "out") is True
    assert fof.result(parent["id"], "out2") is False
    assert fof.client.get_flow_run(parent["id"])["name"] == "renamed-by-itself"


def test_cancel_returns_true_for_a_pending_child_and_false_when_finished(
    fof: harness.Stack,
) -> None:
    parent = fof.run("fof-cancel")
    _ok(parent)
    assert fof.result(parent["id"], "out") is True
    child_id = fof.result(parent["id"], "out2")
    assert fof.client.get_flow_run(child_id)["state_type"] == "Cancelled"

    from headwater.tasks.headwater import CancelFlowRun

    finished = fof.run("fof-child")
    with harness.api_env(fof.server.api_url):
        assert CancelFlowRun(flow_run_id=finished["id"]).run() is False
        with pytest.raises(ValueError, match="not found"):
            CancelFlowRun().run(flow_run_id="00000000-0000-0000-0000-000000000000")


def test_cancel_without_id_cancels_its_own_run(fof: harness.Stack) -> None:
    parent = fof.run("fof-cancel-self")
    assert parent["state_type"] == "Cancelled"


@pytest.mark.parametrize("cascade", [True, False])
def test_cancelling_a_parent_cascades_to_children(fof: harness.Stack, cascade: bool) -> None:
    parent_id = fof.start("fof-parent-of-sleepy")

    def child_running(run: dict[str, Any]) -> bool:
        kids = fof.client.get_flow_run_children(parent_id)
        return bool(kids) and kids[0]["state_type"] == "Running"

    wait_for_flow_run_state(fof.client, parent_id, predicate=child_running, timeout=60)
    fof.client.cancel_flow_run(parent_id, cascade=cascade)
    parent = wait_for_flow_run_state(fof.client, parent_id, timeout=60)
    assert parent["state_type"] == "Cancelled"
    child_id = fof.children(parent_id)[0]["id"]
    if cascade:
        child = wait_for_flow_run_state(fof.client, child_id, timeout=60)
        assert child["state_type"] == "Cancelled"
    else:
        assert fof.client.get_flow_run(child_id)["state_type"] == "Running"
        fof.client.cancel_flow_run(child_id)
        wait_for_flow_run_state(fof.client, child_id, timeout=60)
