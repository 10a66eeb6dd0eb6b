"""Concurrency limits through the client (Prefect 1's method names) and the CLI.

The client talks to a real temporary server; the CLI runs as the installed ``headwater``
executable. Both databases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.client import ROUTES, Client
from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from support.waiting import wait_until

pytestmark = pytest.mark.e2e

UNKNOWN = "00000000-0000-0000-0000-000000000000"


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
def client(hw_server: TemporaryServer) -> Iterator[Client]:
    with Client(api_url=hw_server.api_url, retries=2) as client:
        for limit in client.get_task_tag_limits():
            client.delete_task_tag_limit(limit["id"])
        for limit in client.get_flow_concurrency_limits():
            client.delete_flow_concurrency_limit(limit["id"])
        yield client


def cli(api_url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    env = dict(os.environ, HEADWATER_API_URL=api_url)
    env.pop("HEADWATER_API_KEY", None)
    result = subprocess.run([found, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == code, (args, result.stdout, result.stderr)
    return result


def test_prefect1_task_tag_limit_methods(client: Client) -> None:
    assert client.get_task_tag_limit("database") is None
    limit_id = client.update_task_tag_limit("database", 10)
    assert client.get_task_tag_limit("database") == 10
    assert client.update_task_tag_limit("database", 0) == limit_id
    assert client.get_task_tag_limit("database") == 0
    (info,) = client.get_task_tag_limits()
    assert info == {**info, "id": limit_id, "tag": "database", "limit": 0, "running": 0}
    assert client.delete_task_tag_limit(limit_id) is None
    assert client.get_task_tag_limit("database") is None
    with pytest.raises(ValueError, match="Deleting the task tag concurrency limit failed"):
        client.delete_task_tag_limit(limit_id)


def test_flow_concurrency_limit_methods(client: Client) -> None:
    limit_id = client.update_flow_concurrency_limit("small-machine", 3)
    assert client.get_flow_concurrency_limit("small-machine") == 3
    assert client.get_flow_concurrency_limit("other") is None
    assert [x["label"] for x in client.get_flow_concurrency_limits()] == ["small-machine"]
    client.delete_flow_concurrency_limit(limit_id)
    assert client.get_flow_concurrency_limits() == []
    with pytest.raises(ValueError, match="Deleting the flow concurrency limit failed"):
        client.delete_flow_concurrency_limit(UNKNOWN)


@pytest.mark.parametrize("method", ["update_task_tag_limit", "update_flow_concurrency_limit"])
def test_bad_limits_are_refused_before_any_request(client: Client, method: str) -> None:
    update = getattr(client, method)
    with pytest.raises(ValueError, match=">= 0"):
        update("x", -1)
    with pytest.raises(TypeError, match="must be an int"):
        update("x", 1.5)
    with pytest.raises(ValueError, match="non-empty"):
        update("", 1)
    assert client.get_task_tag_limits() == [] and client.get_flow_concurrency_limits() == []


def test_every_limit_route_the_client_calls_exists(hw_server: TemporaryServer) -> None:
    import httpx

    document = httpx.get(f"{hw_server.api_url}/openapi.json", timeout=30).json()
    paths = {f"/api{p}" if not p.startswith("/api") else p for p in document["paths"]}
    mine = [r for r in ROUTES if "limit" in r.path or "wait-for-slot" in r.path]
    assert len(mine) == 7
    for declared in mine:
        assert f"/api{declared.path}" in paths, declared


def test_the_cli_sets_lists_gets_and_deletes(hw_server: TemporaryServer, client: Client) -> None:
    url = hw_server.api_url
    odd = "gpu/[bold]big[/bold]"
    out = cli(url, "concurrency-limit", "flow-runs", "set", odd, "2").stdout
    assert out.strip() == f"Concurrency limit of label {odd!r} set to 2"
    assert client.get_flow_concurrency_limit(odd) == 2
    cli(url, "concurrency-limit", "task-tags", "set", "db", "5")
    assert client.get_task_tag_limit("db") == 5

    table = cli(url, "concurrency-limit", "flow-runs", "ls").stdout
    assert odd in table  # user text is printed as text, not rich markup
    listed = json.loads(cli(url, "concurrency-limit", "task-tags", "ls", "--json").stdout)
    assert [(x["tag"], x["limit"], x["running"]) for x in listed] == [("db", 5, 0)]
    got = cli(url, "concurrency-limit", "task-tags", "get", "db").stdout
    assert got.strip() == "5 (0 task runs holding a slot)"

    cli(url, "concurrency-limit", "task-tags", "delete", "db")
    assert client.get_task_tag_limit("db") is None
    missing = cli(url, "concurrency-limit", "task-tags", "delete", "db", code=1)
    assert missing.stderr.strip() == "Error: No concurrency limit on tag 'db'."
    bad = cli(url, "concurrency-limit", "flow-runs", "set", "x", "-3", code=2)
    assert "-3 is not in the range" in bad.stderr and "Traceback" not in bad.stderr
    assert client.get_flow_concurrency_limit("x") is None


def _running_task_run(client: Client) -> tuple[str, str, Any]:
    """A Running flow run of a flow with a task tagged "slow-api", and its task run."""
    from headwater import Flow, task
    from headwater.engine.state import Running

    @task(tags=["slow-api"])
    def call_api() -> int:
        return 1

    with Flow(f"tagged-{uuid.uuid4().hex[:8]}") as flow:
        call_api()
    project = f"p-{uuid.uuid4().hex[:8]}"
    client.create_project(project)
    flow_id = client.register(flow, project_name=project)
    run_id = client.create_flow_run(flow_id=flow_id)
    client.set_flow_run_state(run_id, Running())
    (the_task,) = flow.tasks
    assert the_task.slug is not None
    task_run = client.get_or_create_task_run(run_id, the_task.slug)
    return run_id, str(task_run["id"]), the_task


def _start(client: Client, task_run_id: str, the_task: Any) -> Any:
    from headwater.engine.backend._concurrency import start_when_slot_free
    from headwater.engine.state import Running
    from headwater.utilities.configuration import set_temporary_config

    with set_temporary_config({"server.queue_interval": 300}):
        return start_when_slot_free(client, task_run_id, Running("go"), the_task.name)


def test_the_runner_waits_queued_and_starts_when_the_limit_is_raised(client: Client) -> None:
    _run_id, task_run_id, the_task = _running_task_run(client)
    client.update_task_tag_limit("slow-api", 0)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_start(client, task_run_id, the_task)))
    worker.start()
    wait_until(
        lambda: client.get_task_run(task_run_id)["state_type"] == "Queued",
        timeout=60,
        interval=0.05,
        what="the task run to be Queued",
    )
    assert worker.is_alive()
    client.update_task_tag_limit("slow-api", 1)
    worker.join(120)  # woken by the server: the queue interval is 300 s here
    assert not worker.is_alive()
    assert type(outcome[0]).__name__ == "Running"
    history = [s["state"]["type"] for s in client.get_task_run_states(task_run_id)]
    assert history == ["Pending", "Queued", "Running"]


def test_the_runner_stops_waiting_when_its_flow_run_is_cancelled(client: Client) -> None:
    run_id, task_run_id, the_task = _running_task_run(client)
    client.update_task_tag_limit("slow-api", 0)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_start(client, task_run_id, the_task)))
    worker.start()
    wait_until(
        lambda: client.get_task_run(task_run_id)["state_type"] == "Queued",
        timeout=60,
        interval=0.05,
        what="the task run to be Queued",
    )
    assert client.cancel_flow_run(run_id)["state"] == "Cancelling"
    worker.join(120)  # woken by the server: the queue interval is 300 s here
    assert not worker.is_alive()
    assert type(outcome[0]).__name__ == "Queued"  # refused: the task is not called
    history = [s["state"]["type"] for s in client.get_task_run_states(task_run_id)]
    assert history == ["Pending", "Queued"]
