"""A temporary local agent for tests: ``with temporary_agent(api_url) as agent: ...``.

It starts ``headwater agent local start`` as a real subprocess (so flow runs execute
exactly as in production), waits until the server lists it, and always stops it on exit:
SIGTERM first (the agent terminates the runs it still executes), SIGKILL if it does not
exit within the timeout.

``temporary_server_process()`` runs ``headwater server start`` the same way on a free
loopback port, with a ``restart()`` for tests of what survives a server restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = [
    "AgentProcess",
    "ServerProcess",
    "temporary_agent",
    "temporary_server_process",
    "wait_for_flow_run_state",
]


@dataclass
class AgentProcess:
    """A running agent subprocess.

    Attributes:
        name: The agent's name (unique per call unless given).
        api_url: The server it talks to.
        process: The subprocess.
        log_path: File that receives the agent's stdout and stderr.
    """

    name: str
    api_url: str
    process: subprocess.Popen[bytes]
    log_path: str
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        """The agent's process id."""
        return self.process.pid

    def output(self) -> str:
        """Everything the agent has printed so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM the agent and wait; SIGKILL after ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the agent (it gets no chance to clean up)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@contextlib.contextmanager
def temporary_agent(
    api_url: str,
    labels: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    max_concurrent: int | None = None,
    api_key: str | None = None,
    extra_args: Iterable[str] = (),
    process_env: Mapping[str, str] | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[AgentProcess]:
    """Run a local agent subprocess for the duration of the block.

    Args:
        api_url: Server API URL (``http://127.0.0.1:PORT/api``).
        labels: Labels the agent offers (none by default).
        env: ``--env`` values passed to every flow run.
        name: Agent name (default: a unique one).
        max_concurrent: ``--max-concurrent`` value.
        api_key: API key, if the server requires one.
        extra_args: More command-line options for ``headwater agent local start``.
        process_env: Extra environment variables for the agent process itself.
        startup_timeout: Seconds to wait until the server lists the agent.

    Yields:
        The running agent.

    Raises:
        RuntimeError: The agent exited or did not register in time (its output is in
            the message).
    """
    agent_name = name or f"test-agent-{uuid.uuid4().hex[:8]}"
    command = [
        sys.executable,
        "-c",
        "import sys; from headwater.cli import main; sys.exit(main())",
        "agent",
        "local",
        "start",
        "--name",
        agent_name,
        "--api-url",
        api_url,
    ]
    for label in labels:
        command += ["--label", label]
    for key, value in (env or {}).items():
        command += ["--env", f"{key}={value}"]
    if max_concurrent is not None:
        command += ["--max-concurrent", str(max_concurrent)]
    if api_key:
        command += ["--api-key", api_key]
    command += list(extra_args)
    full_env = dict(os.environ)
    full_env.update(process_env or {})
    fd, log_path = tempfile.mkstemp(prefix="headwater-agent-", suffix=".log")
    os.close(fd)
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed by AgentProcess.stop
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env
    )
    agent = AgentProcess(agent_name, api_url, process, log_path, log_file)
    try:
        _wait_registered(agent, api_key, startup_timeout)
        yield agent
    finally:
        agent.stop()
        with contextlib.suppress(OSError):
            os.unlink(log_path)


def _wait_registered(agent: AgentProcess, api_key: str | None, timeout: float) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.process.poll() is not None:
            raise RuntimeError(
                f"agent {agent.name!r} exited with code {agent.process.returncode}:\n"
                + agent.output()
            )
        try:
            response = httpx.get(f"{agent.api_url}/agents", headers=headers, timeout=5)
            if response.status_code == 200 and any(
                a.get("name") == agent.name for a in response.json()
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"agent {agent.name!r} did not register in {timeout} s:\n{agent.output()}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_CLI = "import sys; from headwater.cli import main; sys.exit(main())"


@dataclass
class ServerProcess:
    """A ``headwater server start`` subprocess on a loopback port, restartable.

    Attributes:
        port: The port it listens on (kept across restarts).
        env: The environment it runs with.
        log_path: File that receives its output.
        process: The current subprocess (None while stopped).
    """

    port: int
    env: dict[str, str]
    log_path: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:<port>/api``."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until its health check answers."""
        import httpx

        command = [sys.executable, "-c", _CLI, "server", "start"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not healthy in {timeout} s:\n{self.output()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Stop the server (SIGTERM by default; SIGKILL if it does not exit)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def restart(self) -> None:
        """Stop and start again on the same port and database."""
        self.stop()
        self.start()

    def output(self) -> str:
        """Everything the server printed so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


@contextlib.contextmanager
def temporary_server_process(
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    home: str | None = None,
) -> Iterator[ServerProcess]:
    """Run ``headwater server start`` on a free loopback port for the block.

    Args:
        database_url: ``HEADWATER_DATABASE_URL`` (default: SQLite under ``home``).
        env: Extra environment variables for the server (for example short reaper
            thresholds: ``HEADWATER_HEARTBEAT_TIMEOUT``, ``HEADWATER_REAPER_INTERVAL``).
        home: ``HEADWATER_HOME`` (default: a fresh temporary directory).

    Yields:
        The running server; it is always stopped afterwards.
    """
    import shutil

    own_home = home is None
    home_dir = home or tempfile.mkdtemp(prefix="headwater-server-")
    full_env = dict(os.environ)
    full_env["HEADWATER_HOME"] = home_dir
    if database_url:
        full_env["HEADWATER_DATABASE_URL"] = database_url
    full_env.update(env or {})
    server = ServerProcess(_free_port(), full_env, os.path.join(home_dir, "server.log"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if own_home:
            shutil.rmtree(home_dir, ignore_errors=True)


def wait_for_flow_run_state(
    client: Any,
    flow_run_id: str,
    predicate: Callable[[dict[str, Any]], bool] | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Wait until a flow run satisfies ``predicate`` (default: it is finished).

    Uses the server's long-poll wait when waiting for a finished run, so it returns as
    soon as the run ends.

    Args:
        client: A ``headwater.client.Client``.
        flow_run_id: The run to watch.
        predicate: Condition on the run's API record.
        timeout: Seconds before giving up.

    Returns:
        The run's API record.

    Raises:
        TimeoutError: The condition was not met in time (the message shows the state).
    """
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while True:
        remaining = deadline - time.monotonic()
        if predicate is None:
            answer = client.wait_for_flow_run(flow_run_id, timeout=max(min(remaining, 10.0), 0.1))
            run = answer["flow_run"]
            if answer.get("finished"):
                return run
        else:
            run = client.get_flow_run(flow_run_id)
            if predicate(run):
                return run
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"flow run {flow_run_id} still {run.get('state_type')!r} "
                f"({run.get('state_message')!r}) after {timeout} s"
            )
        if predicate is not None:
            time.sleep(0.05)
