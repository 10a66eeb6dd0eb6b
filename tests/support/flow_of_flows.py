"""The flow-of-flows stack: a real server and agent with the test flows registered.

``stack(database)`` starts ``headwater server start`` and ``headwater agent local start``
as subprocesses and registers the flows of ``tests/e2e/test_flow_run_tasks_flows``. The
agent runs with its own HEADWATER_HOME, different from the test process's, so every result
the tests read comes through the server, not a shared disk. The end-to-end tests get it as
the ``fof`` fixture (tests/e2e/conftest.py), once per module and database.
"""

from __future__ import annotations

import contextlib
import runpy
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)
from headwater.testing_agent import temporary_agent, wait_for_flow_run_state
from support.waiting import wait_until

# The flows the stack registers (scripts, stored as scripts).
HERE = Path(__file__).resolve().parents[1] / "e2e" / "test_flow_run_tasks_flows"
PROJECT = "fof"


def pg_available() -> bool:
    return postgres_available()


@dataclass
class Stack:
    """A running server and agent, a client, and the registered test flows."""

    server: TemporaryServer
    client: Any
    agent_home: str
    flow_ids: dict[str, str] = field(default_factory=dict)

    def run(self, flow: str, /, **parameters: Any) -> dict[str, Any]:
        """Create a run of a registered flow and wait until it is finished."""
        run_id = self.client.create_flow_run(
            flow_id=self.flow_ids[flow], parameters=parameters or None
        )
        return wait_for_flow_run_state(self.client, run_id, timeout=90)

    def start(self, flow: str, /, **parameters: Any) -> str:
        """Create a run of a registered flow without waiting."""
        return str(
            self.client.create_flow_run(flow_id=self.flow_ids[flow], parameters=parameters or None)
        )

    def result(self, flow_run_id: str, slug: str, map_index: int = -1) -> Any:
        """Read a task run's value through the views (and so through the server)."""
        from headwater.backend import TaskRunView

        view = TaskRunView.from_task_slug(
            slug, flow_run_id, map_index=map_index, client=self.client
        )
        return view.get_result()

    def task_run(self, flow_run_id: str, prefix: str | tuple[str, ...]) -> dict[str, Any]:
        """The unmapped task run whose slug starts with ``prefix``."""
        rows = [
            r
            for r in self.client.query_task_runs(flow_run_id=flow_run_id)
            if r["task_slug"].startswith(prefix) and r["map_index"] == -1
        ]
        assert len(rows) == 1, rows
        return dict(rows[0])

    def children(self, flow_run_id: str) -> list[dict[str, Any]]:
        return list(self.client.get_flow_run_children(flow_run_id))

    def logs(self, flow_run_id: str, until: str | None = None) -> list[str]:
        """The run's log messages (see :meth:`logs_rows`)."""
        return [row["message"] for row in self.logs_rows(flow_run_id, until)]

    def logs_rows(self, flow_run_id: str, until: str | None = None) -> list[dict[str, Any]]:
        """The run's log messages; with ``until``, wait (30 s at most) for a line containing it.

        A run ships its last log lines while its process exits, after its final state.
        """
        rows: list[dict[str, Any]] = []

        def arrived() -> bool:
            rows[:] = self.client.get_logs(flow_run_id)
            return until is None or any(until in row["message"] for row in rows)

        # The caller asserts on the rows; a line that never came shows up there.
        with contextlib.suppress(AssertionError):
            wait_until(arrived, timeout=30, interval=0.05, what=f"a log line with {until!r}")
        return rows


def register_all(client: Any, file_name: str, project: str = PROJECT) -> dict[str, str]:
    """Register every flow in ``FLOWS`` of a file here, stored as that script."""
    from headwater.storage import Local

    script = HERE / file_name
    flows = runpy.run_path(str(script), run_name="fof_flows")["FLOWS"]
    ids: dict[str, str] = {}
    for flow in flows:
        flow.storage = Local(path=str(script), stored_as_script=True)
        ids[flow.name] = str(client.register(flow, project_name=project))
    return ids


@contextlib.contextmanager
def stack(database: str = "sqlite") -> Iterator[Stack]:
    """Start a server (SQLite or a fresh PostgreSQL database) and an agent."""
    with contextlib.ExitStack() as stack_:
        database_url = None
        if database == "postgresql":
            database_url = stack_.enter_context(temporary_postgres_database())
        server = stack_.enter_context(temporary_server(database_url=database_url))
        agent_home = tempfile.mkdtemp(prefix="headwater-agent-home-")
        stack_.callback(shutil.rmtree, agent_home, True)
        stack_.enter_context(
            temporary_agent(
                server.api_url,
                process_env={"HEADWATER_HOME": agent_home},
                extra_args=["--cancel-grace", "3"],
            )
        )
        from headwater.client import Client

        client = Client(api_server=server.api_url)
        client.create_project(PROJECT)
        result = Stack(server, client, agent_home)
        result.flow_ids.update(register_all(client, "children.py"))
        result.flow_ids.update(register_all(client, "twin.py"))
        result.flow_ids.update(register_all(client, "parents.py"))
        yield result


@contextlib.contextmanager
def api_env(url: str) -> Iterator[None]:
    """Point the default client of the views and tasks in this process at ``url``."""
    import os

    import headwater.backend._common as common

    old = os.environ.get("HEADWATER_API_URL")
    os.environ["HEADWATER_API_URL"] = url
    common._local.__dict__.pop("client", None)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HEADWATER_API_URL", None)
        else:
            os.environ["HEADWATER_API_URL"] = old
        common._local.__dict__.pop("client", None)
