"""headwater.backend views against a real server and agent (SQLite and PostgreSQL).

Ports the behaviour of Prefect 1's backend view tests (reference 11.4 to 11.6) to real
requests: lookups and their errors, state history, logs, task-run caching, results,
mapped results, and Headwater's lineage (parent ids, get_children).
"""

from __future__ import annotations

from typing import Any

import pytest

from support import flow_of_flows as harness

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def finished(fof: harness.Stack) -> dict[str, Any]:
    """One finished grandparent -> parent (fof-map) -> two children tree."""
    grandparent = fof.run("fof-grandparent")
    assert grandparent["state_type"] == "Success", grandparent["state_message"]
    middle = fof.client.get_flow_run(fof.result(grandparent["id"], "out"))
    children = fof.children(middle["id"])
    return {"grandparent": grandparent, "middle": middle, "children": children}


# -- FlowView ------------------------------------------------------------------------------


def test_flow_view_lookups(fof: harness.Stack) -> None:
    from headwater.backend import FlowView

    flow_id = fof.flow_ids["fof-child"]
    by_id = FlowView.from_flow_id(flow_id, client=fof.client)
    assert (by_id.flow_id, by_id.name, by_id.project_name) == (flow_id, "fof-child", "fof")
    assert by_id.archived is False and by_id.storage
    by_group = FlowView.from_flow_group_id(by_id.flow_group_id or "", client=fof.client)
    assert by_group.flow_id == flow_id
    assert FlowView.from_id(by_id.flow_group_id or "", client=fof.client).flow_id == flow_id
    assert FlowView.from_flow_name("fof-child", client=fof.client).flow_id == flow_id
    assert FlowView.from_flow_name("fof-child", "fof", client=fof.client).flow_id == flow_id
    assert "fof-child" in repr(by_id)
    flow = by_id.flow
    assert flow.name == "fof-child" and by_id.flow is flow


def test_flow_view_errors(fof: harness.Stack) -> None:
    from headwater.backend import FlowView

    with pytest.raises(ValueError, match="not an existing flow or flow group id"):
        FlowView.from_id(MISSING, client=fof.client)
    with pytest.raises(TypeError, match="must be a string"):
        FlowView.from_id(123, client=fof.client)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="No results found while querying for flows"):
        FlowView.from_flow_name("nope", client=fof.client)
    with pytest.raises(ValueError, match="No results found"):
        FlowView.from_flow_name("fof-child", project_name="elsewhere", client=fof.client)


def test_flow_view_ambiguous_name(fof: harness.Stack) -> None:
    from headwater.backend import FlowView

    fof.client.create_project("views-other")
    harness.register_all(fof.client, "twin.py", project="views-other")
    with pytest.raises(ValueError, match="pass `project_name`"):
        FlowView.from_flow_name("fof-twin", client=fof.client)
    newest = FlowView.from_flow_name("fof-twin", last_updated=True, client=fof.client)
    assert newest.project_name == "views-other"


# -- FlowRunView ---------------------------------------------------------------------------


def test_flow_run_view_fields_states_and_lineage(
    fof: harness.Stack, finished: dict[str, Any]
) -> None:
    from headwater.backend import FlowRunView

    middle = finished["middle"]
    view = FlowRunView.from_flow_run_id(middle["id"], client=fof.client)
    assert view.flow_run_id == middle["id"]
    assert view.name == middle["name"]
    assert view.flow_id == fof.flow_ids["fof-map"]
    assert view.state.is_successful()
    assert view.parameters["xs"] == [1, 2]
    assert view.parent_flow_run_id == finished["grandparent"]["id"]
    assert (
        view.parent_task_run_id
        == fof.task_run(finished["grandparent"]["id"], "create_flow_run")["id"]
    )
    assert view.get_parent() is not None
    states = [type(s).__name__ for s in view.states]
    assert states[0] == "Scheduled" and states[-1] == "Success"
    stamps = [s.timestamp for s in view.states]  # type: ignore[attr-defined]
    assert stamps == sorted(stamps)
    assert view.get_flow_metadata().name == "fof-map"
    assert middle["id"] in repr(view)


def test_flow_run_view_children(fof: harness.Stack, finished: dict[str, Any]) -> None:
    from headwater.backend import FlowRunView

    top = FlowRunView.from_flow_run_id(finished["grandparent"]["id"], client=fof.client)
    direct = top.get_children()
    assert [c.flow_run_id for c in direct] == [finished["middle"]["id"]]
    everything = {c.flow_run_id for c in top.get_children(recursive=True)}
    assert everything == {finished["middle"]["id"], *(c["id"] for c in finished["children"])}
    assert top.parent_flow_run_id is None and top.get_parent() is None


def test_flow_run_view_logs_are_ascending(fof: harness.Stack, finished: dict[str, Any]) -> None:
    from headwater.backend import FlowRunView

    child = FlowRunView.from_flow_run_id(finished["children"][0]["id"], client=fof.client)
    logs = child.get_logs()
    assert logs == sorted(logs, key=lambda log: log.timestamp)
    assert any(log.message.startswith("squaring") for log in logs)
    assert {log.level for log in logs} >= {20, 30}
    later = child.get_logs(start_time=logs[-1].timestamp)
    assert later == []


def test_flow_run_view_task_runs_and_cache(fof: harness.Stack, finished: dict[str, Any]) -> None:
    from headwater.backend import FlowRunView

    middle = FlowRunView.from_flow_run_id(finished["middle"]["id"], client=fof.client)
    all_runs = middle.get_all_task_runs()
    ids = middle.get_task_run_ids()
    assert sorted(r.task_run_id for r in all_runs) == sorted(ids)
    out = middle.get_task_run("out")
    assert middle.get_task_run(task_run_id=out.task_run_id) is out
    with pytest.raises(ValueError, match="has slug"):
        middle.get_task_run(task_slug="other", task_run_id=out.task_run_id)
    with pytest.raises(ValueError, match="map index"):
        middle.get_task_run(task_run_id=out.task_run_id, map_index=3)
    with pytest.raises(ValueError, match="Pass `task_slug` or `task_run_id`"):
        middle.get_task_run()
    latest = middle.get_latest()
    assert latest is not middle
    assert latest.get_task_run(task_run_id=out.task_run_id) is out


def test_flow_run_view_errors(fof: harness.Stack) -> None:
    from headwater.backend import FlowRunView

    with pytest.raises(ValueError, match="No flow runs found"):
        FlowRunView.from_flow_run_id(MISSING, client=fof.client)
    with pytest.raises(TypeError, match="must be a string"):
        FlowRunView.from_flow_run_id(5, client=fof.client)  # type: ignore[arg-type]


# -- TaskRunView ---------------------------------------------------------------------------


def test_task_run_view_results_and_mapping(fof: harness.Stack) -> None:
    from headwater.backend import TaskRunView

    run = fof.run("fof-mapped", xs=[4, 5, 6])
    parent = TaskRunView.from_task_slug("each", run["id"], client=fof.client)
    assert parent.state.is_mapped()
    assert "<not loaded>" in repr(parent)
    assert parent.get_result() == [40, 50, 60]
    assert "[40, 50, 60]" in repr(parent)
    children = list(parent.iter_mapped())
    assert [c.map_index for c in children] == [0, 1, 2]
    assert [c.get_result() for c in children] == [40, 50, 60]
    again = TaskRunView.from_task_run_id(children[1].task_run_id, client=fof.client)
    assert again == children[1]
    latest = parent.get_latest()
    assert latest._result == [40, 50, 60]


def test_task_run_view_errors(fof: harness.Stack) -> None:
    from headwater.backend import TaskRunView

    run = fof.run("fof-child")
    square = TaskRunView.from_task_slug("square-result", run["id"], client=fof.client)
    with pytest.raises(TypeError, match="not Mapped"):
        list(square.iter_mapped())
    with pytest.raises(ValueError, match="No task runs found"):
        TaskRunView.from_task_slug("square-result", run["id"], map_index=4, client=fof.client)
    with pytest.raises(ValueError, match="No task run found"):
        TaskRunView.from_task_run_id(MISSING, client=fof.client)
    with pytest.raises(TypeError, match="must be a string"):
        TaskRunView.from_task_run_id(None, client=fof.client)  # type: ignore[arg-type]
    sleepy = fof.start("fof-sleepy", seconds=30)
    try:
        nap = TaskRunView.from_task_slug("nap", sleepy, client=fof.client)
        with pytest.raises(ValueError, match="not finished"):
            nap.get_result()
    finally:
        fof.client.cancel_flow_run(sleepy)
