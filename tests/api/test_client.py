"""The client against a real temporary server: every resource method, errors, long-polls.

Also checks that every route the client calls exists in the server's OpenAPI document and
that importing the client loads no server code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import Flow, Parameter, task
from headwater.client import ROUTES, Client, FlowRunInfoResult, TaskRunInfoResult
from headwater.engine.state import Failed, Running, Success
from headwater.exceptions import ClientError, ConflictError, ObjectNotFound
from headwater.run_configs import LocalRun
from headwater.storage import Local
from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@task
def _one(p: int) -> int:
    return p


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def hw_server(request: pytest.FixtureRequest) -> Iterator[TemporaryServer]:
    if request.param == "sqlite":
        with temporary_server() as server:
            yield server
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with temporary_postgres_database() as url, temporary_server(database_url=url) as server:
        yield server


@pytest.fixture
def hw(hw_server: TemporaryServer) -> Iterator[Client]:
    with Client(api_url=hw_server.api_url, retries=2) as client:
        yield client


def _flow(name: str | None = None) -> Flow:
    with Flow(name or f"flow-{uuid.uuid4().hex[:8]}") as flow:
        _one(Parameter("p", default=0))
    return flow


@pytest.fixture
def project(hw: Client) -> str:
    name = f"proj-{uuid.uuid4().hex[:8]}"
    hw.create_project(name, project_description="for tests")
    return name


@pytest.fixture
def flow_id(hw: Client, project: str) -> str:
    return hw.register(_flow(), project_name=project)


def test_every_client_route_exists_in_the_servers_openapi_document() -> None:
    from headwater.server.app import create_app

    paths = create_app().openapi()["paths"]
    assert len(ROUTES) >= 30
    missing = [
        f"{r.method} {r.path}"
        for r in ROUTES
        if r.method.lower() not in paths.get("/api" + r.path, {})
    ]
    assert missing == []


def test_importing_the_client_loads_no_server_code() -> None:
    code = (
        "import sys, headwater.client, headwater.storage, headwater.run_configs\n"
        "bad = [m for m in sys.modules if m.startswith(('headwater.server', 'sqlalchemy',"
        " 'fastapi', 'uvicorn', 'dask', 'distributed', 'rich', 'pygments'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_health(hw: Client) -> None:
    assert hw.health()["status"] == "ok"


def test_projects(hw: Client, project: str) -> None:
    assert hw.get_project(project)["description"] == "for tests"
    assert project in [p["name"] for p in hw.get_projects()]
    with pytest.raises(ConflictError, match=r"exists|already"):
        hw.create_project(project)
    with pytest.raises(ObjectNotFound) as info:
        hw.get_project("no-such-project")
    assert info.value.status_code == 404


def test_register_needs_an_existing_project(hw: Client) -> None:
    with pytest.raises(ClientError, match="create it with `headwater create project nope`"):
        hw.register(_flow(), project_name="nope")
    with pytest.raises(ValueError, match="needs a project_name"):
        hw.register(_flow())


def test_register_records_storage_run_config_and_labels(hw: Client, project: str) -> None:
    flow = _flow()
    flow.run_config = LocalRun(env={"X": "1"}, labels=["a"])
    first = hw.register(flow, project_name=project)
    record = hw.get_flow(first)
    assert record["name"] == flow.name and record["project_name"] == project
    assert record["version"] == 1
    assert record["storage"]["type"] == "Local"
    assert flow.name in record["storage"]["flows"]
    assert record["run_config"] == LocalRun(env={"X": "1"}, labels=["a"]).to_ref()
    assert not record["labels"]  # registered without labels: none
    assert "_one" in [t["name"] for t in record["serialized_flow"]["tasks"]]

    second = hw.register(flow, project_name=project, labels=["b", "a", "b"])
    assert hw.get_flow(second)["labels"] == ["a", "b"]
    assert hw.get_flow(second)["version"] == 2
    assert [f["id"] for f in hw.query_flows(name=flow.name, project_name=project)] == [
        second,
        first,
    ]


def test_register_with_idempotency_key_returns_the_same_version(
    hw: Client, project: str, tmp_path: Path
) -> None:
    flow = _flow()
    explicit = Local(directory=str(tmp_path))
    flow_id = hw.register(flow, project_name=project, storage=explicit)
    assert flow.storage is explicit
    assert hw.get_flow(flow_id)["storage"]["directory"] == str(tmp_path)
    first = hw.register(flow, project_name=project, idempotency_key="k1")
    assert hw.register(flow, project_name=project, idempotency_key="k1") == first
    assert hw.register(flow, project_name=project, idempotency_key="k2") != first


def test_flow_groups_and_archive(hw: Client, flow_id: str) -> None:
    group_id = hw.get_flow(flow_id)["flow_group_id"]
    assert hw.get_flow_group(group_id)["id"] == group_id
    updated = hw.update_flow_group(group_id, labels=["g"], default_parameters={"x": 1})
    assert updated["labels"] == ["g"]
    with pytest.raises(TypeError, match="unknown field"):
        hw.update_flow_group(group_id, colour="red")
    assert hw.archive_flow(flow_id)["archived"] is True
    with pytest.raises(ObjectNotFound):
        hw.get_flow(UNKNOWN)


def test_create_flow_run_is_idempotent_and_always_sends_a_key(hw: Client, flow_id: str) -> None:
    a = hw.create_flow_run(flow_id=flow_id, idempotency_key="same")
    assert hw.create_flow_run(flow_id=flow_id, idempotency_key="same") == a
    b = hw.create_flow_run(flow_id=flow_id)
    c = hw.create_flow_run(flow_id=flow_id)
    assert len({a, b, c}) == 3
    assert hw.get_flow_run(b)["idempotency_key"]


def test_create_by_name_with_parameters_labels_and_run_name(
    hw: Client, project: str, flow_id: str
) -> None:
    name = hw.get_flow(flow_id)["name"]
    run_id = hw.create_flow_run(
        flow_name=name,
        project_name=project,
        parameters={"p": 1},
        labels=["l1"],
        run_name="my-run",
        context={"c": 2},
        run_config=LocalRun(labels=["rc"]),
    )
    info = hw.get_flow_run_info(run_id)
    assert isinstance(info, FlowRunInfoResult)
    assert info.name == "my-run" and info.flow_id == flow_id
    assert info.parameters["p"] == 1 and info.context["c"] == 2
    assert info.labels == ["l1"]
    assert info.state.is_scheduled() and info.scheduled_start_time is not None
    assert all(isinstance(t, TaskRunInfoResult) for t in info.task_runs)
    assert hw.query_flow_runs(flow_name=name, project_name=project)[0]["id"] == run_id
    assert hw.query_flow_runs(name="my-run", label="l1")[0]["id"] == run_id


def test_rename_labels_and_delete(hw: Client, flow_id: str) -> None:
    run_id = hw.create_flow_run(flow_id=flow_id)
    assert hw.set_flow_run_name(run_id, "renamed") is True
    assert hw.get_flow_run(run_id)["name"] == "renamed"
    assert hw.set_flow_run_name(UNKNOWN, "x") is False
    assert hw.set_flow_run_labels(run_id, ["z"]) is True
    assert hw.get_flow_run(run_id)["labels"] == ["z"]
    assert hw.set_flow_run_labels(UNKNOWN, ["z"]) is False
    assert hw.delete_flow_run(run_id) is True
    assert hw.delete_flow_run(run_id) is False
    with pytest.raises(ObjectNotFound, match="not found"):
        hw.get_flow_run(run_id)


def test_states_heartbeat_children_and_cancel(hw: Client, flow_id: str) -> None:
    parent = hw.create_flow_run(flow_id=flow_id)
    child = hw.create_flow_run(flow_id=flow_id, parent_flow_run_id=parent)
    assert [r["id"] for r in hw.get_flow_run_children(parent)] == [child]
    assert [r["id"] for r in hw.get_flow_run_children(parent, recursive=True)] == [child]

    stored = hw.set_flow_run_state(parent, Running(message="go"))
    assert stored.is_running()
    hw.update_flow_run_heartbeat(parent)
    assert hw.get_flow_run(parent)["heartbeat"]
    types = [row["state"]["type"] for row in hw.get_flow_run_states(parent)]
    assert types[-1] == "Running"
    with pytest.raises(ConflictError):
        hw.set_flow_run_state(parent, Success(), version=1)

    answer = hw.cancel_flow_run(parent)
    assert answer["state"] in ("Cancelling", "Cancelled")
    assert child in answer["cancelled"]
    with pytest.raises(ObjectNotFound):
        hw.cancel_flow_run(UNKNOWN)


def test_cancel_without_cascade_leaves_children(hw: Client, flow_id: str) -> None:
    parent = hw.create_flow_run(flow_id=flow_id)
    child = hw.create_flow_run(flow_id=flow_id, parent_flow_run_id=parent)
    answer = hw.cancel_flow_run(parent, cascade=False)
    assert child not in answer["cancelled"]
    assert hw.get_flow_run(child)["state_type"] == "Scheduled"


def test_wait_for_flow_run_long_polls_beyond_the_client_timeout(
    hw_server: TemporaryServer, flow_id: str
) -> None:
    with Client(api_url=hw_server.api_url, timeout=1.0) as short:
        run_id = short.create_flow_run(flow_id=flow_id)
        started = time.monotonic()
        answer = short.wait_for_flow_run(run_id, timeout=1.5)
        assert answer["finished"] is False
        assert time.monotonic() - started >= 1.0
        short.set_flow_run_state(run_id, Failed(message="no"))
        answer = short.wait_for_flow_run(run_id, timeout=10)
        assert answer["finished"] is True
        assert answer["flow_run"]["state_type"] == "Failed"


def test_task_runs_results_and_logs(hw: Client, flow_id: str) -> None:
    run_id = hw.create_flow_run(flow_id=flow_id)
    tasks = hw.get_flow(flow_id)["serialized_flow"]["tasks"]
    slug = next(t["slug"] for t in tasks if t["name"] == "_one")
    first = hw.get_or_create_task_run(run_id, slug, task_name="_one")
    assert hw.get_or_create_task_run(run_id, slug)["id"] == first["id"]
    info = hw.get_task_run_info(run_id, slug)
    assert info.id == first["id"] and info.task_slug == slug and info.map_index == -1
    hw.set_flow_run_state(run_id, Running())  # task runs only run inside a running flow run
    assert hw.set_task_run_state(first["id"], Running()).is_running()
    assert hw.set_task_run_state(first["id"], Success(message="done")).is_successful()
    assert [r["state"]["type"] for r in hw.get_task_run_states(first["id"])][-1] == "Success"
    assert hw.get_task_run(first["id"])["state_type"] == "Success"
    assert [t["id"] for t in hw.query_task_runs(flow_run_id=run_id, state="Success")] == [
        first["id"]
    ]
    with pytest.raises(ObjectNotFound):
        hw.download_result(first["id"])
    location = hw.upload_result(first["id"], b"\x00bytes")
    assert first["id"] in location
    assert hw.download_result(first["id"]) == b"\x00bytes"

    hw.write_run_logs([])
    hw.write_run_logs(
        [
            {"flow_run_id": run_id, "level": "INFO", "name": "t", "message": "one"},
            {
                "flow_run_id": run_id,
                "task_run_id": first["id"],
                "level": "ERROR",
                "name": "t",
                "message": "two",
            },
        ]
    )
    assert [log["message"] for log in hw.get_logs(run_id)] == ["one", "two"]
    assert [log["message"] for log in hw.get_logs(run_id, task_run_id=first["id"])] == ["two"]
    assert len(hw.get_logs(run_id, limit=1)) == 1


def test_agents_register_and_claim(hw: Client, project: str) -> None:
    label = f"only-{uuid.uuid4().hex[:8]}"
    flow_id = hw.register(_flow(), project_name=project)
    run_id = hw.create_flow_run(flow_id=flow_id, labels=[label])
    agent_id = hw.register_agent("LocalAgent", name="test-agent", labels=[label])
    assert agent_id in [a["id"] for a in hw.get_agents()]
    answer = hw.claim_flow_runs(agent_id, timeout=5, limit=5)
    assert [r["id"] for r in answer["flow_runs"]] == [run_id]
    assert hw.get_flow_run(run_id)["state_type"] == "Submitted"
    empty = hw.claim_flow_runs(agent_id, timeout=0.2, running=[run_id])
    assert empty["flow_runs"] == []


def test_stream_events_until_end_and_resume_from_a_cursor(hw: Client, flow_id: str) -> None:
    run_id = hw.create_flow_run(flow_id=flow_id)
    hw.set_flow_run_state(run_id, Running())
    hw.write_run_logs([{"flow_run_id": run_id, "level": "INFO", "name": "x", "message": "hi"}])
    hw.set_flow_run_state(run_id, Success())
    events = list(hw.stream_flow_run_events(run_id))
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "end" and "log" in kinds
    states = [e["data"]["state"]["type"] for e in events if e["event"] == "state"]
    assert states == ["Scheduled", "Running", "Success"]
    resumed = list(hw.stream_flow_run_events(run_id, cursor=events[0]["id"], logs=False))
    assert [e["data"]["state"]["type"] for e in resumed if e["event"] == "state"] == [
        "Running",
        "Success",
    ]
    with pytest.raises(ObjectNotFound):
        next(iter(hw.stream_flow_run_events(UNKNOWN)))
