"""``headwater demo``: the whole system in one command.

It starts ``headwater server start`` (embedded SQLite under ``HEADWATER_HOME`` unless
``HEADWATER_DATABASE_URL`` says otherwise) and ``headwater agent local start`` as child
processes, waits for the server's health check, creates the project ``examples``,
registers the flows in ``examples/``, runs the orchestrator flow, prints its result, the
run ids and where to look next, and keeps server and agent running until Ctrl-C
(``--exit-after`` stops them as soon as the example finished). Every exit path stops both
child processes.
"""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click

from headwater.backend import FlowRunView, TaskRunView
from headwater.exceptions import ConflictError
from headwater.storage import Local
from headwater.tasks.headwater._handles import ChildRun

__all__ = ["demo"]

_PROJECT = "examples"
_EXAMPLE_FILES = ("child_flows.py", "orchestrator.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _default_examples_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples"
        if (candidate / "orchestrator.py").is_file():
            return candidate
    return Path.cwd() / "examples"


def _headwater_command(*args: str) -> list[str]:
    # The console script may not be on PATH (e.g. a venv that is not activated), so run
    # the CLI through the current interpreter.
    code = "import sys; from headwater.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, *args]


def _stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM a child's process group, then SIGKILL it after ``timeout``."""
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@contextmanager
def _child(
    args: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def _wait_for_health(
    api_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> dict[str, Any]:
    # deferred: httpx (~100 ms) only once the demo runs.
    import httpx

    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(
                f"the server exited with code {process.returncode}; see {log_path}"
            )
        try:
            answer = httpx.get(f"{api_url}/health", timeout=2.0)
            if answer.status_code == 200:
                health: dict[str, Any] = answer.json()
                return health
            last_error = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            last_error = str(exc) or type(exc).__name__
        time.sleep(0.1)
    raise click.ClickException(
        f"the server did not become healthy within {timeout:g} s ({last_error}); see {log_path}"
    )


def _register_examples(client: Any, examples_dir: Path) -> dict[str, str]:
    """Register every flow of the example files; return flow name -> flow id."""
    with suppress(ConflictError):
        client.create_project(_PROJECT)
    registered: dict[str, str] = {}
    for file_name in _EXAMPLE_FILES:
        path = examples_dir / file_name
        if not path.is_file():
            raise click.ClickException(f"example file not found: {path}")
        namespace = runpy.run_path(str(path), run_name="headwater_examples")
        for flow in namespace.get("FLOWS", []):
            flow.storage = Local(path=str(path), stored_as_script=True)
            registered[flow.name] = client.register(flow, project_name=_PROJECT)
    return registered


def _run_example(client: Any, numbers: list[int], timeout: float) -> tuple[str, Any, list[str]]:
    run_id = client.create_flow_run(
        flow_name="orchestrator", project_name=_PROJECT, parameters={"numbers": numbers}
    )
    click.echo(f"Started flow run {run_id} of 'orchestrator' with numbers={numbers}")
    view: FlowRunView = ChildRun(run_id, client=client).wait(timeout=timeout)
    children = [child.flow_run_id for child in view.get_children()]
    if not view.state.is_successful():
        raise click.ClickException(
            f"the orchestrator run {run_id} ended {view.state!r}; see `headwater logs {run_id}`"
        )
    total = TaskRunView.from_task_slug("total", run_id, client=client).get_result()
    return run_id, total, children


@click.command("demo")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Server port (default 4200 when free; 0 picks a free loopback port).",
)
@click.option(
    "--examples-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory holding child_flows.py and orchestrator.py.",
)
@click.option(
    "--numbers", default="1,2,3,4", show_default=True, help="Inputs for the orchestrator."
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the example.",
)
@click.option("--exit-after", is_flag=True, help="Stop server and agent once the example finished.")
def demo(
    port: int | None, examples_dir: Path | None, numbers: str, timeout: float, exit_after: bool
) -> None:
    """Start a server and an agent, register the examples and run the orchestrator flow."""
    try:
        values = [int(part) for part in numbers.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers, got {numbers!r}", param_hint="--numbers"
        ) from None
    examples_dir = examples_dir or _default_examples_dir()
    if port is None:
        port = 4200 if _port_is_free(4200) else _free_port()
    elif port == 0:
        # The server and agent are separate processes that must agree on one URL before
        # the server binds, so port 0 is resolved here rather than by the server.
        port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    home = Path(os.environ.get("HEADWATER_HOME") or Path.home() / ".headwater")
    env = dict(os.environ, HEADWATER_HOME=str(home), HEADWATER_API_URL=api_url)
    logs_dir = home / "demo"
    server_log, agent_log = logs_dir / "server.log", logs_dir / "agent.log"

    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with _child(
            _headwater_command("server", "start", "--host", "127.0.0.1", "--port", str(port)),
            env,
            server_log,
        ) as server:
            health = _wait_for_health(api_url, server, server_log, timeout=60)
            click.echo(
                f"Server ready at {api_url} (database: {health.get('database')}); log: {server_log}"
            )
            with _child(
                _headwater_command("agent", "local", "start", "--api-url", api_url), env, agent_log
            ) as agent:
                click.echo(f"Agent started (pid {agent.pid}); log: {agent_log}")
                # deferred: the client loads httpx (~100 ms); `headwater <noun> --help` does not need it.
                from headwater.client import Client

                client = Client(api_url=api_url)
                flows = _register_examples(client, examples_dir)
                click.echo(f"Registered in project '{_PROJECT}': {', '.join(sorted(flows))}")
                run_id, total, children = _run_example(client, values, timeout)
                click.echo(f"Result: sum of squares of {values} = {total}")
                click.echo(f"Orchestrator run: {run_id}")
                click.echo(f"Child runs: {', '.join(children)}")
                click.echo("Look next:")
                click.echo(f"  web UI: http://127.0.0.1:{port}/runs/{run_id}")
                click.echo(f"  HEADWATER_API_URL={api_url} headwater get flow-runs")
                click.echo(
                    f"  HEADWATER_API_URL={api_url} headwater get flow-runs --parent {run_id}"
                )
                click.echo(f"  HEADWATER_API_URL={api_url} headwater logs {run_id}")
                if exit_after:
                    return
                click.echo("Server and agent keep running; press Ctrl-C to stop them.")
                try:
                    while not stop.is_set() and server.poll() is None and agent.poll() is None:
                        stop.wait(0.5)
                except KeyboardInterrupt:
                    pass
                click.echo("Stopping server and agent...")
    except KeyboardInterrupt:
        click.echo("Stopping server and agent...")
    finally:
        signal.signal(signal.SIGTERM, previous)
