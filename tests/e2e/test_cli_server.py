"""The ``headwater server`` commands as real processes: start, restart, refusals,
database upgrade and reset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from headwater.testing import TemporaryServer

pytestmark = pytest.mark.e2e


def _cli(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    environ.update(HEADWATER_HOME=str(home), **env)
    return subprocess.run(
        [sys.executable, "-c", "from headwater.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )


def _create_run(api_url: str) -> dict[str, object]:
    with httpx.Client(base_url=api_url + "/", timeout=10) as client:
        assert client.post("projects", json={"name": "p"}).status_code == 201
        flow = client.post(
            "flows",
            json={"name": "f", "project_name": "p", "serialized_flow": {"tasks": [{"slug": "t"}]}},
        ).json()
        run = client.post("flow-runs", json={"flow_id": flow["id"], "idempotency_key": "k"})
        assert run.status_code == 201, run.text
        state = client.post(
            f"flow-runs/{run.json()['id']}/state", json={"state": {"type": "Running"}}
        )
        assert state.json()["status"] == "accepted"
        logs = {"logs": [{"flow_run_id": run.json()["id"], "message": "kept"}]}
        assert client.post("logs", json=logs).status_code == 200
        result: dict[str, object] = client.get(f"flow-runs/{run.json()['id']}").json()
        return result


def _check_kept(api_url: str, run: dict[str, object]) -> None:
    with httpx.Client(base_url=api_url + "/", timeout=10) as client:
        again = client.get(f"flow-runs/{run['id']}").json()
        assert again == run
        logs = client.get("logs", params={"flow_run_id": run["id"]}).json()
        assert [entry["message"] for entry in logs] == ["kept"]
        repeat = client.post("flow-runs", json={"flow_id": run["flow_id"], "idempotency_key": "k"})
        assert repeat.status_code == 200 and repeat.json()["id"] == run["id"]


def test_restart_loses_nothing_committed(server: TemporaryServer) -> None:
    run = _create_run(server.api_url)
    server.restart()
    _check_kept(server.api_url, run)
    assert (server.home / "headwater.db").exists()


def test_restart_on_postgres_loses_nothing(pg_server: TemporaryServer) -> None:
    run = _create_run(pg_server.api_url)
    pg_server.restart()
    _check_kept(pg_server.api_url, run)


def test_public_address_without_key_is_refused(tmp_path: Path) -> None:
    result = _cli("server", "start", "--host", "0.0.0.0", "--port", "1", home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--insecure" in lines[0] and "API key" in lines[0]


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = _cli("server", "start", "--database-url", "mysql://x/y", home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "mysql" in result.stderr


def test_database_upgrade_and_reset(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    upgraded = _cli("server", "database", "upgrade", "--database-url", str(db), home=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert db.exists()
    refused = _cli("server", "database", "reset", "--database-url", str(db), home=tmp_path)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    reset = _cli(
        "server", "database", "reset", "--yes", home=tmp_path, HEADWATER_DATABASE_URL=str(db)
    )
    assert reset.returncode == 0, reset.stderr


def test_reset_clears_data(server: TemporaryServer) -> None:
    _create_run(server.api_url)
    server.stop()
    result = _cli("server", "database", "reset", "--yes", home=server.home)
    assert result.returncode == 0, result.stderr
    server.start()
    assert httpx.get(server.api_url + "/projects").json() == []


def test_api_key_from_environment(tmp_path: Path) -> None:
    from headwater.testing import temporary_server

    with temporary_server(env={"HEADWATER_API_KEY": "k"}) as running:
        assert httpx.get(running.api_url + "/health").status_code == 200
        assert httpx.get(running.api_url + "/projects").status_code == 401
        ok = httpx.get(running.api_url + "/projects", headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    result = _cli("server", "start", "--database-url", url, home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0]


def test_temporary_server_moves_off_a_taken_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    import headwater.testing as testing

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        choices = iter([taken])
        real_free_port = testing.free_port
        monkeypatch.setattr(testing, "free_port", lambda: next(choices, None) or real_free_port())
        with testing.temporary_server() as running:
            assert running.port != taken
            assert httpx.get(running.api_url + "/health").status_code == 200


def test_port_in_use_is_one_line(server: TemporaryServer, tmp_path: Path) -> None:
    result = _cli("server", "start", "--port", str(server.port), home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "address already in use" in lines[0]


def test_port_zero_serves_on_a_free_port_and_says_which(tmp_path: Path) -> None:
    import re
    import signal
    import time

    environ = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    environ["HEADWATER_HOME"] = str(tmp_path)
    command = [sys.executable, "-c", "from headwater.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "server", "start", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api", line)
        assert match, line
        port = int(match.group(1))
        assert port != 0
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server never answered on the port it named"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
