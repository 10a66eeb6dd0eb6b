"""Artifacts, the KV store, hooks and retention with a real server and agent, on SQLite
and PostgreSQL.

One server (with a hook URL and retention configured in its environment), one agent and
one HTTP receiver on loopback per database serve every test of this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import runpy
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import temporary_agent, wait_for_flow_run_state
from support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FLOWS = Path(__file__).parent / "flows"


class Receiver:
    """Records the JSON bodies POSTed to it on 127.0.0.1."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                with receiver.lock:
                    receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_run(self, flow_run_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if b["flow_run"]["id"] == flow_run_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stack:
    def __init__(self, server: TemporaryServer, client: Any, receiver: Receiver) -> None:
        self.server = server
        self.client = client
        self.receiver = receiver

    @property
    def database_url(self) -> str:
        return self.server.database_url or f"sqlite:///{self.server.home / 'headwater.db'}"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with contextlib.ExitStack() as stack:
        database_url: str | None = None
        if request.param == "postgresql":
            if not postgres_available() and os.environ.get("CI") != "true":
                pytest.skip("PostgreSQL is not reachable")
            database_url = stack.enter_context(temporary_postgres_database())
        receiver = Receiver()
        stack.callback(receiver.close)
        env = {
            "HEADWATER_HOOK_E2E_URL": receiver.url,
            "HEADWATER_SERVER_HOOK_RETRY_DELAY": "0.2",
            "HEADWATER_SERVER_RETENTION_FLOW_RUNS": "1d",
            "HEADWATER_SERVER_RETENTION_INTERVAL": "1",
            "HEADWATER_SERVER_RETENTION_BATCH_SIZE": "2",
        }
        server = stack.enter_context(temporary_server(database_url=database_url, env=env))
        stack.enter_context(temporary_agent(server.api_url))
        from headwater.client import Client

        client = Client(api_server=server.api_url)
        stack.callback(client.close)
        client.create_project("e2e")
        for name in ("trivial.py", "artifacts_kv.py", "link_parent.py"):
            register(client, name)
        yield Stack(server, client, receiver)


def register(client: Any, file_name: str) -> str:
    from headwater.storage import Local

    script = FLOWS / file_name
    flow = runpy.run_path(str(script), run_name="e2e_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="e2e"))


def run_flow(client: Any, flow_name: str, **kwargs: Any) -> dict[str, Any]:
    run_id = client.create_flow_run(flow_name=flow_name, project_name="e2e", **kwargs)
    run = wait_for_flow_run_state(client, run_id, timeout=120)
    assert run["state_type"] == "Success", run["state_message"]
    return run


def until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    return wait_until(predicate, timeout=timeout, interval=0.1, what=what)


def _executable() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    return found


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEADWATER_API_URL": stack.server.api_url}
    return subprocess.run(
        [_executable(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_flow_publishes_artifacts_and_keeps_a_watermark(stack: Stack) -> None:
    client = stack.client
    client.delete_key("e2e-watermark")
    first = run_flow(client, "e2e-artifacts-kv")
    second = run_flow(client, "e2e-artifacts-kv")
    assert client.get_key_value("e2e-watermark") == 20
    assert client.get_key_value("e2e-history") == {"last": 20, "tags": ["a", "b"]}
    for run, (start, end) in ((first, (0, 10)), (second, (10, 20))):
        artifacts = client.get_flow_run_artifacts(run["id"])
        assert [a["kind"] for a in artifacts] == ["link", "markdown"]
        link, report = artifacts
        assert link["data"] == {"link": f"https://example.com/batches/{start}-{end}"}
        assert report["data"] == {"markdown": f"# Batch\nprocessed {start}..{end}"}
        (process,) = [
            t for t in client.query_task_runs(flow_run_id=run["id"]) if t["task_name"] == "process"
        ]
        assert {a["task_run_id"] for a in artifacts} == {process["id"]}
        assert client.get_task_run_artifacts(process["id"]) == artifacts
    listed = cli(stack, "artifacts", second["id"])
    assert listed.returncode == 0, listed.stderr
    assert "https://example.com/batches/10-20" in listed.stdout and "markdown" in listed.stdout


def test_the_kv_command_line(stack: Stack) -> None:
    assert cli(stack, "kv", "set", "e2e-cli", "plain text").returncode == 0
    assert cli(stack, "kv", "get", "e2e-cli").stdout.strip() == "plain text"
    assert cli(stack, "kv", "set", "e2e-cli-json", '{"n": 3}', "--json").returncode == 0
    assert stack.client.get_key_value("e2e-cli-json") == {"n": 3}
    assert "e2e-cli-json" in cli(stack, "kv", "list", "--prefix", "e2e-cli").stdout.split()
    assert cli(stack, "kv", "delete", "e2e-cli").returncode == 0
    missing = cli(stack, "kv", "get", "e2e-cli")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == ["Error: No value found for key 'e2e-cli'."]
    too_big = cli(stack, "kv", "set", "big", "x" * 20_000)
    assert too_big.returncode == 1 and "at most 10240 bytes" in too_big.stderr


def test_start_flow_run_and_create_flow_run_link_to_their_children(stack: Stack) -> None:
    client = stack.client
    parent = run_flow(client, "e2e-link-parent")
    children = client.get_flow_run_children(parent["id"])
    assert len(children) == 3
    links = client.get_flow_run_artifacts(parent["id"], kind="link")
    assert len(links) == 2
    by_task = {t["id"]: t for t in client.query_task_runs(flow_run_id=parent["id"])}
    linked = {a["data"]["link"]: by_task[a["task_run_id"]]["task_name"] for a in links}
    child_of = {c["parent_task_run_id"]: c["id"] for c in children}
    assert sorted(linked.values()) == ["Flow e2e-trivial", "create_flow_run"]
    expected = {
        f"/flow-run/{child_of[task_id]}"
        for task_id, task in by_task.items()
        if task["task_name"] in ("Flow e2e-trivial", "create_flow_run")
    }
    assert set(linked) == expected


def test_a_hook_fires_once_per_matching_state_change(stack: Stack) -> None:
    client = stack.client
    created = cli(
        stack,
        "hooks",
        "create",
        "e2e-trivial-watch",
        "--kind",
        "webhook",
        "--url-env",
        "HEADWATER_HOOK_E2E_URL",
        "--flow",
        "e2e-trivial",
        "--state",
        "Running",
        "--state",
        "Success",
        "--state",
        "Failed",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Hook 'e2e-trivial-watch' created: ")
    hook = client.get_hook("e2e-trivial-watch")
    assert hook["states"] == ["Failed", "Running", "Success"] and hook["configured"] is True
    refused = cli(stack, "hooks", "create", "x", "--kind", "slack", "--url-env", "HOME")
    assert refused.returncode == 1 and "HEADWATER_HOOK_" in refused.stderr
    try:
        runs = [run_flow(client, "e2e-trivial") for _ in range(2)]
        other = run_flow(client, "e2e-artifacts-kv")
        for run in runs:
            history = [s["state"]["type"] for s in client.get_flow_run_states(run["id"])]
            expected = [t for t in history if t in ("Running", "Success", "Failed")]
            got = until(
                lambda run=run, expected=expected: (
                    stack.receiver.for_run(run["id"])
                    if len(stack.receiver.for_run(run["id"])) >= len(expected)
                    else None
                ),
                what="hook calls",
            )
            assert [b["state"]["type"] for b in got] == expected
        # Everything delivered is recorded; nothing more arrives on later passes.
        until(
            lambda: all(d["status"] == "sent" for d in client.get_hook_deliveries(hook["id"])),
            what="deliveries recorded",
        )
        # The dispatcher handles states in the order they were written: once a later
        # run's calls arrived, every pass that could have repeated an earlier call is over.
        later = run_flow(client, "e2e-trivial")
        until(lambda: len(stack.receiver.for_run(later["id"])) >= 2, what="later hook calls")
        for run in runs:
            history = [s["state"]["type"] for s in client.get_flow_run_states(run["id"])]
            assert len(stack.receiver.for_run(run["id"])) == len(
                [t for t in history if t in ("Running", "Success", "Failed")]
            )
        assert stack.receiver.for_run(other["id"]) == []
        listed = cli(stack, "hooks", "list")
        assert listed.returncode == 0 and "e2e-trivial-watch" in listed.stdout
        shown = cli(stack, "hooks", "deliveries", "e2e-trivial-watch")
        assert shown.returncode == 0 and f"{runs[0]['id']}" in shown.stdout
        assert "sent after 1 attempt(s), HTTP 204" in shown.stdout
    finally:
        assert cli(stack, "hooks", "delete", "e2e-trivial-watch").returncode == 0
    assert client.get_hooks() == []


def _age_runs(database_url: str, run_ids: list[str], days: float) -> None:
    """Move finished runs back in time, straight in the database (a time machine)."""
    from sqlalchemy import update

    from headwater.server.database import Database, orm

    async def run() -> None:
        db = Database(database_url)
        try:
            then = orm.utcnow() - dt.timedelta(days=days)
            async with db.session() as session:
                await session.execute(
                    update(orm.FlowRun)
                    .where(orm.FlowRun.id.in_(run_ids))
                    .values(end_time=then, state_timestamp=then)
                )
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(run())


def test_retention_deletes_old_runs_and_nothing_else_while_runs_are_written(
    stack: Stack,
) -> None:
    client = stack.client
    old = [run_flow(client, "e2e-artifacts-kv") for _ in range(3)]
    kept = run_flow(client, "e2e-artifacts-kv")
    old_results = [t["id"] for r in old for t in client.query_task_runs(flow_run_id=r["id"])]
    result_files = [stack.server.home / "results" / i for i in old_results]
    written: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        from headwater.client import Client

        with Client(api_server=stack.server.api_url) as own:
            try:
                while not stop.is_set():
                    # Labels no agent has: this loop plays the agent for these runs.
                    run_id = own.create_flow_run(
                        flow_name="e2e-trivial", project_name="e2e", labels=["writer-only"]
                    )
                    own.set_flow_run_state(run_id, {"type": "Running"})
                    own.write_run_logs([{"flow_run_id": run_id, "message": "written"}])
                    own.set_flow_run_state(run_id, {"type": "Success"})
                    written.append(run_id)
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        until(lambda: len(written) >= 3, what="first writes")
        _age_runs(stack.database_url, [r["id"] for r in old], days=3)

        def gone() -> bool:
            return all(client.query_flow_runs(name=r["name"]) == [] for r in old)

        until(gone, timeout=90, what="retention of the old runs")
        until(lambda: len(written) >= 10, what="more writes")
    finally:
        stop.set()
        thread.join(60)
    assert errors == []
    assert not any(p.exists() for p in result_files)
    for run in old:
        assert client.get_flow_run_artifacts(run["id"]) == []
        assert client.get_logs(run["id"]) == []
    assert client.get_flow_run(kept["id"])["state_type"] == "Success"
    assert len(client.get_flow_run_artifacts(kept["id"])) == 2
    for run_id in written:
        assert client.get_flow_run(run_id)["state_type"] == "Success"
        assert [log["message"] for log in client.get_logs(run_id)] == ["written"]
    vacuum = subprocess.run(
        [_executable(), "server", "database", "vacuum", "--database-url", stack.database_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert vacuum.returncode == 0, vacuum.stderr
    assert "Vacuumed the" in vacuum.stdout and "MB after" in vacuum.stdout
    # The server keeps working after a vacuum.
    assert client.get_flow_run(kept["id"])["id"] == kept["id"]


def test_two_server_processes_on_one_database_call_a_hook_once(stack: Stack) -> None:
    if stack.server.database_url is None:
        pytest.skip("several server processes share a PostgreSQL database, not a SQLite file")
    client = stack.client
    hook = client.create_hook(
        "e2e-replicas", "webhook", "HEADWATER_HOOK_E2E_URL", flow_name="e2e-trivial"
    )
    env = {"HEADWATER_HOOK_E2E_URL": stack.receiver.url}
    try:
        with temporary_server(database_url=stack.server.database_url, env=env) as second:
            from headwater.client import Client

            with Client(api_server=second.api_url) as other:
                # Runs created through either server, run by the agent of the first.
                runs = [run_flow(client, "e2e-trivial"), run_flow(other, "e2e-trivial")]
                for run in runs:
                    history = client.get_flow_run_states(run["id"])
                    until(
                        lambda run=run, n=len(history): len(stack.receiver.for_run(run["id"])) >= n,
                        what="hook calls of both servers",
                    )
                later = run_flow(other, "e2e-trivial")
                until(lambda: len(stack.receiver.for_run(later["id"])) >= 4, what="later calls")
        for run in runs:
            # Calls of two processes may interleave: compare the sets, and count them.
            versions = sorted(b["state"]["version"] for b in stack.receiver.for_run(run["id"]))
            assert versions == [s["version"] for s in client.get_flow_run_states(run["id"])]
        deliveries = client.get_hook_deliveries(hook["id"])
        assert len({(d["flow_run_id"], d["state_version"]) for d in deliveries}) == len(deliveries)
    finally:
        client.delete_hook("e2e-replicas")
