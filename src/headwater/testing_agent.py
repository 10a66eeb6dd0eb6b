"""A temporary local agent for tests: ``with temporary_agent(api_url) as agent: ...``.

It starts ``headwater agent local start`` as a real subprocess (so flow runs execute
exactly as in production), waits until the server lists it, and always stops it on exit:
SIGTERM first (the agent terminates the runs it still executes), SIGKILL if it does not
exit within the timeout.

``wait_for_flow_run_state()`` waits (by long-poll) until a run is finished or meets a
condition. A temporary server comes from ``headwater.testing.temporary_server``.
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
    "temporary_agent",
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
    # deferred: httpx costs ~100 ms, paid once an agent is started.
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
