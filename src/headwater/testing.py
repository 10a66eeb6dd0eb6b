"""Test harness: a real temporary Headwater server and throw-away PostgreSQL databases.

Contract:

- :func:`temporary_server` starts ``headwater server start`` as a subprocess (its own
  process group) on a free loopback port with a temporary ``HEADWATER_HOME``, waits for
  ``GET /api/health`` with a deadline, and yields a :class:`TemporaryServer`. On exit the
  whole process group is killed and the home removed, whatever happened.
- :func:`temporary_postgres_database` creates a uniquely named PostgreSQL database and
  drops it (``WITH (FORCE)``) afterwards, yielding its ``postgresql://`` URL.
- ``temporary_agent`` and ``wait_for_flow_run_state`` are re-exported from
  :mod:`headwater.testing_agent`, imported on first use so this module stays light.

Example::

    from headwater.testing import temporary_server

    with temporary_server() as server:
        client = Client(api_url=server.api_url)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.testing_agent import temporary_agent, wait_for_flow_run_state

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "TemporaryServer",
    "free_port",
    "postgres_available",
    "temporary_agent",
    "temporary_postgres_database",
    "temporary_server",
    "wait_for_flow_run_state",
]

_AGENT_NAMES = frozenset({"temporary_agent", "wait_for_flow_run_state"})


def __getattr__(name: str) -> Any:
    if name in _AGENT_NAMES:
        # deferred: the agent harness loads on first use (a test checks that importing
        # this module leaves it out).
        from headwater import testing_agent

        return getattr(testing_agent, name)
    raise AttributeError(f"module 'headwater.testing' has no attribute {name!r}")


#: Administrative connection used to create and drop temporary databases.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _PortTaken(Exception):
    pass


class TemporaryServer:
    """A ``headwater server start`` subprocess; use through :func:`temporary_server`.

    Attributes:
        home: The server's ``HEADWATER_HOME``.
        port: The loopback port it listens on.
        url: ``http://127.0.0.1:<port>``.
        api_url: ``http://127.0.0.1:<port>/api``.
        database_url: The database URL it uses (``None``: SQLite under ``home``).
        api_key: The API key it requires, if any.
        process: The running :class:`subprocess.Popen`, or ``None`` when stopped.
        log_path: File receiving the server's stdout and stderr.
    """

    def __init__(
        self,
        *,
        home: Path,
        database_url: str | None = None,
        api_key: str | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api"
        self.database_url = database_url
        self.api_key = api_key
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"
        self._started_before = False

    def _environment(self) -> dict[str, str]:
        environ = dict(os.environ)
        for key in ("HEADWATER_DATABASE_URL", "HEADWATER_API_KEY", "HEADWATER_API_URL"):
            environ.pop(key, None)
        environ["HEADWATER_HOME"] = str(self.home)
        if self.database_url:
            environ["HEADWATER_DATABASE_URL"] = self.database_url
        if self.api_key:
            environ["HEADWATER_API_KEY"] = self.api_key
        environ.update(self.extra_env)
        return environ

    def start(self) -> None:
        """Start the process and wait until it answers health checks.

        Raises:
            RuntimeError: The server exited or did not become healthy in time; the
                message ends with the tail of its log.
        """
        if self.process is not None:
            return
        for attempt in range(3):
            try:
                self._start_once()
                return
            except _PortTaken:
                if attempt == 2 or self._started_before:
                    raise RuntimeError(
                        f"Port {self.port} is taken by another process.\n{self.log_tail()}"
                    ) from None
                # Another process grabbed the port between choosing and binding it.
                self._set_port(free_port())

    def _set_port(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.api_url = f"{self.url}/api"

    def _start_once(self) -> None:
        command = [
            sys.executable,
            "-c",
            "from headwater.cli import main; main()",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        self._started_before = True

    def _wait_healthy(self) -> None:
        # deferred: httpx costs ~100 ms, paid once a server is started.
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        assert self.process is not None
        while True:
            code = self.process.poll()
            if code is not None:
                if "address already in use" in self.log_tail(5).lower():
                    raise _PortTaken
                raise RuntimeError(
                    f"The Headwater server exited with code {code} during start.\n{self.log_tail()}"
                )
            try:
                response = httpx.get(f"{self.api_url}/health", timeout=2.0)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"The Headwater server did not answer within {self.startup_timeout} s.\n"
                    f"{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (TERM, then KILL after ``timeout``) and its process group."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # Whatever the server started in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)

    def restart(self) -> None:
        """Stop and start again on the same port, home and database."""
        self.stop()
        self.start()

    def __repr__(self) -> str:
        return f"<TemporaryServer {self.api_url}>"


@contextlib.contextmanager
def temporary_server(
    database_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    startup_timeout: float = 30.0,
) -> Iterator[TemporaryServer]:
    """Run a real Headwater server for the duration of the block.

    Args:
        database_url: Database to use; default a fresh SQLite file in the temporary home.
        api_key: API key the server requires.
        env: Extra environment variables for the server process.
        startup_timeout: Seconds to wait for the health check.

    Yields:
        The running :class:`TemporaryServer`.
    """
    home = Path(tempfile.mkdtemp(prefix="headwater-server-"))
    server = TemporaryServer(
        home=home,
        database_url=database_url,
        api_key=api_key,
        env=env,
        startup_timeout=startup_timeout,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def postgres_available(base_url: str = DEFAULT_POSTGRES_URL, timeout: float = 2.0) -> bool:
    """Whether PostgreSQL at ``base_url`` accepts connections."""
    try:
        # deferred: psycopg is optional (the server extra), needed only for PostgreSQL.
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(base_url, connect_timeout=max(1, int(timeout))):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def temporary_postgres_database(base_url: str = DEFAULT_POSTGRES_URL) -> Iterator[str]:
    """Create a uniquely named PostgreSQL database; drop it afterwards.

    Args:
        base_url: ``postgresql://`` URL of an existing database with the right to create
            databases.

    Yields:
        The new database's ``postgresql://`` URL.
    """
    # deferred: psycopg is optional (the server extra), needed only for PostgreSQL.
    import psycopg

    name = f"headwater_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(base_url, name)
    finally:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
