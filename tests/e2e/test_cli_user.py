"""The user commands (create, register, run, get, logs, cancel) as real subprocesses.

Each test runs the installed ``headwater`` executable against a real temporary server;
the run-and-watch test also starts a real local agent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.testing import TemporaryServer, free_port, temporary_server
from headwater.testing_agent import AgentProcess

pytestmark = pytest.mark.e2e

FLOWS = """
from headwater import Flow, Parameter, task
import headwater


@task
def greet(name):
    headwater.context.get("logger").info("hello %s", name)
    return name


@task
def explode(name):
    raise ValueError("exploded for " + name)


with Flow("{prefix}-greeter") as greeter:
    greet(Parameter("name", default="world"))

with Flow("{prefix}-exploder") as exploder:
    explode(Parameter("name", default="x"))

if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run on registration or loading")
"""


def _executable() -> str:
    found = shutil.which("headwater", path=str(Path(sys.executable).parent))
    assert found, "the headwater console script is not installed"
    return found


def hw(
    api_url: str, *args: str, ok: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``headwater ARGS`` and check its exit status."""
    env = dict(os.environ, HEADWATER_API_URL=api_url)
    env.pop("HEADWATER_API_KEY", None)
    result = subprocess.run(
        [_executable(), *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if ok:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    else:
        assert result.returncode != 0, (args, result.stdout, result.stderr)
        # One clear line, never a traceback.
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr
        assert result.stderr.startswith("Error"), result.stderr
    return result


@pytest.fixture(scope="module")
def cli_server() -> Iterator[TemporaryServer]:
    with temporary_server() as server:
        yield server


@pytest.fixture
def flows_file(tmp_path: Path) -> tuple[Path, str]:
    prefix = f"f{uuid.uuid4().hex[:6]}"
    path = tmp_path / "flows" / "my_flows.py"
    path.parent.mkdir()
    path.write_text(FLOWS.format(prefix=prefix))
    return path, prefix


def test_create_project(cli_server: TemporaryServer) -> None:
    url = cli_server.api_url
    name = f"p-{uuid.uuid4().hex[:6]}"
    out = hw(url, "create", "project", name, "--description", "mine").stdout
    assert f"Created project {name!r}" in out
    err = hw(url, "create", "project", name, ok=False).stderr
    assert f"Project {name!r} already exists" in err
    assert "skipped" in hw(url, "create", "project", name, "--skip-if-exists").stdout
    listed = json.loads(hw(url, "get", "projects", "--json").stdout)
    assert {"name": name, "description": "mine"}.items() <= next(
        p for p in listed if p["name"] == name
    ).items()


def test_register_files_directories_and_modules(
    cli_server: TemporaryServer, flows_file: tuple[Path, str]
) -> None:
    url = cli_server.api_url
    path, prefix = flows_file
    project = f"p-{uuid.uuid4().hex[:6]}"
    err = hw(url, "register", "--project", project, "--path", str(path), ok=False).stderr
    assert f"create it with `headwater create project {project}`" in err
    hw(url, "create", "project", project)

    out = hw(url, "register", "--project", project, "--path", str(path)).stdout.splitlines()
    assert len(out) == 2
    assert all("registered, version 1" in line for line in out), out
    # Unchanged flows keep their version; a directory is searched for .py files.
    again = hw(url, "register", "--project", project, "--path", str(path.parent)).stdout
    assert again.count("unchanged, version 1") == 2
    # --name/-n keeps only the named flows, as Prefect 1's register did.
    only = hw(url, "register", "--project", project, "-p", str(path), "-n", f"{prefix}-greeter")
    assert only.stdout.splitlines() == [
        line for line in again.splitlines() if f"'{prefix}-greeter'" in line
    ]
    err = hw(url, "register", "--project", project, "-p", str(path), "-n", "nope", ok=False)
    assert "No flows named 'nope'" in err.stderr
    forced = hw(url, "register", "--project", project, "-p", str(path), "-f", "-l", "x").stdout
    assert forced.count("registered, version 2") == 2

    flows = json.loads(hw(url, "get", "flows", "--project", project, "--json").stdout)
    assert sorted(f["name"] for f in flows) == [f"{prefix}-exploder", f"{prefix}-greeter"]
    assert all(f["version"] == 2 and f["labels"] == ["x"] for f in flows)
    assert all(f["storage"]["flows"][f["name"]]["path"] == str(path) for f in flows)
    table = hw(url, "get", "flows", "--project", project).stdout
    assert f"{prefix}-greeter" in table

    # A module on the import path registers with Module storage.
    env_path = str(path.parent)
    result = subprocess.run(
        [_executable(), "register", "--project", project, "--module", "my_flows"],
        capture_output=True,
        text=True,
        env=dict(os.environ, HEADWATER_API_URL=url, PYTHONPATH=env_path),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    module_flows = json.loads(
        hw(url, "get", "flows", "--name", f"{prefix}-greeter", "--json").stdout
    )
    assert module_flows[0]["storage"] == {
        "type": "Module",
        "module": "my_flows",
        "flows": {
            f"{prefix}-greeter": {"kind": "module", "module": "my_flows", "attribute": "greeter"}
        },
    }

    explicit = path.parent / "explicit_local.py"
    explicit.write_text(
        "from headwater import Flow\n"
        "from headwater.storage import Local\n"
        f"flow = Flow('{prefix}-explicit', storage=Local())\n"
    )
    hw(url, "register", "--project", project, "--path", str(explicit))
    (record,) = json.loads(hw(url, "get", "flows", "--name", f"{prefix}-explicit", "--json").stdout)
    assert record["storage"]["flows"][f"{prefix}-explicit"]["kind"] == "script"
    explicit.unlink()

    broken = path.parent / "broken.py"
    broken.write_text("raise RuntimeError('cannot load')\n")
    result = hw(url, "register", "--project", project, "--path", str(broken), ok=False)
    assert "RuntimeError: cannot load" in result.stderr
    err = hw(url, "register", "--project", project, "--path", "/no/such/file.py", ok=False).stderr
    assert "/no/such/file.py does not exist" in err


def test_get_cancel_and_errors(cli_server: TemporaryServer, flows_file: tuple[Path, str]) -> None:
    url = cli_server.api_url
    path, prefix = flows_file
    project = f"p-{uuid.uuid4().hex[:6]}"
    hw(url, "create", "project", project)
    hw(url, "register", "--project", project, "--path", str(path))
    # No agent serves this label, so the runs stay Scheduled.
    run_id = hw(
        url, "run", "--name", f"{prefix}-greeter", "-l", "nobody", "--param", "name=ann", "-q"
    ).stdout.strip()
    child_id = hw(url, "run", "--name", f"{prefix}-greeter", "-l", "nobody", "-q").stdout.strip()

    runs = json.loads(hw(url, "get", "flow-runs", "--project", project, "--json").stdout)
    assert {r["id"] for r in runs} == {run_id, child_id}
    assert runs[-1]["parameters"] == {"name": "ann"}
    scheduled = hw(url, "get", "flow-runs", "--state", "Scheduled", "--limit", "1", "--json")
    assert len(json.loads(scheduled.stdout)) == 1
    task_runs = json.loads(hw(url, "get", "task-runs", "--flow-run-id", run_id, "--json").stdout)
    assert sorted(t["task_name"] for t in task_runs) == ["greet", "name"]
    assert "Nothing found." in hw(url, "get", "flow-runs", "--parent", run_id).stdout

    out = hw(url, "cancel", run_id).stdout
    assert f"Flow run {run_id} is Cancel" in out
    assert "already finished" in hw(url, "cancel", run_id).stdout
    answer = json.loads(hw(url, "cancel", child_id, "--no-cascade", "--json").stdout)
    assert answer["state"] in ("Cancelling", "Cancelled")

    unknown = str(uuid.UUID(int=0))
    for args in (
        ("cancel", unknown),
        ("logs", unknown),
        ("get", "task-runs", "--flow-run-id", unknown),
        ("run", "--name", "no-such-flow"),
        ("run", "--name", f"{prefix}-greeter", "--params", "[1]"),
        ("run", "--name", f"{prefix}-greeter", "--param", "novalue"),
        ("run", "--name", f"{prefix}-greeter", "--param", "other=1"),
        ("run",),
        ("get", "projects", "--name", "no-such-project"),
    ):
        hw(url, *args, ok=False)


def test_unreachable_server_is_one_line_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    err = hw(url, "get", "projects", ok=False).stderr
    assert url in err and "Cannot reach" in err
    err = hw(url, "get", "projects", "--api-url", "http://127.0.0.1:1/api", ok=False).stderr
    assert "http://127.0.0.1:1/api" in err


def test_run_watch_streams_logs_and_exit_code_follows_the_outcome(
    server: TemporaryServer, agent: AgentProcess, tmp_path: Path
) -> None:
    url = server.api_url
    path = tmp_path / "watched.py"
    prefix = f"w{uuid.uuid4().hex[:6]}"
    path.write_text(FLOWS.format(prefix=prefix))
    hw(url, "create", "project", "watch")
    hw(url, "register", "--project", "watch", "--path", str(path))

    good = hw(url, "run", "--name", f"{prefix}-greeter", "--param", "name=bob", "--watch")
    assert "hello bob" in good.stdout
    assert "Success" in good.stdout and "ended Success" in good.stdout
    run_id = json.loads(
        hw(url, "get", "flow-runs", "--name", f"{prefix}-greeter", "--json").stdout
    )[0]["id"]
    logs = hw(url, "logs", run_id).stdout
    assert "hello bob" in logs
    assert json.loads(hw(url, "logs", run_id, "--json").stdout)
    assert "hello bob" in hw(url, "logs", run_id, "--follow").stdout

    bad = hw(
        url,
        "run",
        "--name",
        f"{prefix}-exploder",
        "--run-name",
        "doomed",
        "--watch",
        ok=False,
    )
    assert "exploded for x" in bad.stdout
    assert "ended Failed" in bad.stderr
    assert "'doomed'" in bad.stdout


SELF_REGISTERING = """
from headwater import Flow, task


@task
def answer():
    return 42


with Flow("{name}") as flow:
    answer()

if __name__ == "__main__":
    print(flow.register(project_name="scripts"))
"""


def test_flow_registered_from_its_own_main_block_runs_on_the_agent(
    server: TemporaryServer, agent: AgentProcess, tmp_path: Path
) -> None:
    url = server.api_url
    name = f"self-{uuid.uuid4().hex[:6]}"
    script = tmp_path / "self_registering.py"
    script.write_text(SELF_REGISTERING.format(name=name))
    hw(url, "create", "project", "scripts")
    env = dict(os.environ, HEADWATER_API_URL=url)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    flow_id = done.stdout.strip()
    (record,) = json.loads(hw(url, "get", "flows", "--name", name, "--json").stdout)
    assert record["id"] == flow_id
    entry = record["storage"]["flows"][name]
    assert entry["kind"] == "pickle"
    assert entry["import_path"] == str(script.parent)
    hw(url, "run", "--name", name, "--watch")
    # The run loaded the pickle: the script (and its __main__ block) did not run again.
    assert [
        f["version"]
        for f in json.loads(
            hw(url, "get", "flows", "--all-versions", "--name", name, "--json").stdout
        )
    ] == [1]
