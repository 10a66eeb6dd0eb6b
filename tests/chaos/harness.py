"""The fault-injection harness: real servers, agents and flow-run processes, and counts.

A :class:`Stack` is one ``headwater server`` (SQLite or a fresh PostgreSQL database) with
short reaper thresholds, a client, the registered flows of ``flows.py`` and a directory of
execution marks; it starts and kills agents and servers on request. :func:`tally` reads
back what happened to a list of runs and returns :class:`Counts`.
"""

from __future__ import annotations

import contextlib
import os
import re
import runpy
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from headwater.testing import TemporaryServer, temporary_postgres_database, temporary_server
from headwater.testing_agent import AgentProcess, temporary_agent

FLOWS = Path(__file__).with_name("flows.py")
PROJECT = "chaos"
#: Server settings that make faults visible within seconds (documented in docs/agent.md).
SERVER_ENV = {
    "HEADWATER_HEARTBEAT_TIMEOUT": "3",
    "HEADWATER_REAPER_INTERVAL": "0.5",
    "HEADWATER_SUBMITTED_TIMEOUT": "20",
    "HEADWATER_SERVER_CLAIM_LEASE": "4",
    "HEADWATER_SERVER_MAX_RESURRECTIONS": "3",
}
#: Flow-run processes heartbeat well inside the heartbeat timeout above.
PROCESS_ENV = {"HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL": "0.5"}
FINISHED = {"Success", "Failed", "Cancelled", "TimedOut", "TriggerFailed", "ValidationFailed"}
_PID = re.compile(r"PID: (\d+)")


@dataclass
class Counts:
    """What a scenario observed. Every field but ``trials`` and ``runs`` should be read
    against the scenario's expectation (most should be 0)."""

    scenario: str
    database: str
    trials: int = 0
    runs: int = 0
    finished: int = 0
    failed_clear: int = 0
    stuck: int = 0
    executed_twice: int = 0
    lost: int = 0
    logs_lost: int = 0
    http_5xx: int = 0
    duplicate_children: int = 0
    #: Tasks that ran again because their process died after the work but before the
    #: server recorded the success (expected under machine loss; not a double run).
    rerun_unrecorded: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``delays`` summarised."""
        data = asdict(self)
        delays = data.pop("delays")
        data["lost_claim_delays_s"] = sorted(round(d, 2) for d in delays)
        return data

    @property
    def ok(self) -> bool:
        """No run stuck, run twice, lost, no log lost, no 5xx, no duplicate child."""
        return not (
            self.stuck
            or self.executed_twice
            or self.lost
            or self.logs_lost
            or self.http_5xx
            or self.duplicate_children
        )


class Stack:
    """A server, its client, registered flows and the agents started on it."""

    def __init__(self, server: TemporaryServer, database: str, marks: Path) -> None:
        from headwater.client import Client

        self.server = server
        self.database = database
        self.marks = marks
        self.client = Client(api_server=server.api_url, retries=10)
        self.agents: list[AgentProcess] = []
        self._exits = contextlib.ExitStack()
        self.flow_ids: dict[str, str] = {}

    def register(self) -> None:
        from headwater.storage import Local

        self.client.create_project(PROJECT)
        for flow in runpy.run_path(str(FLOWS), run_name="chaos_flows")["FLOWS"]:
            flow.storage = Local(path=str(FLOWS), stored_as_script=True)
            self.flow_ids[flow.name] = str(self.client.register(flow, project_name=PROJECT))

    def start_agent(self, **kwargs: Any) -> AgentProcess:
        """Start a real agent; it is stopped when the stack closes (if still alive)."""
        kwargs.setdefault("process_env", PROCESS_ENV)
        kwargs.setdefault("extra_args", ["--cancel-grace", "3"])
        agent = self._exits.enter_context(temporary_agent(self.server.api_url, **kwargs))
        self.agents.append(agent)
        return agent

    def run(self, flow: str, **parameters: Any) -> str:
        """Create a run of a registered flow (marks directory included)."""
        parameters.setdefault("marks", str(self.marks))
        return str(self.client.create_flow_run(flow_id=self.flow_ids[flow], parameters=parameters))

    def kill_server(self) -> None:
        """SIGKILL the server process (no shutdown of any kind)."""
        process = self.server.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        self.server.process = None

    def close(self) -> None:
        self._exits.close()
        self.client.close()


@contextlib.contextmanager
def stack(database: str = "sqlite", **env: str) -> Iterator[Stack]:
    """Start a server on ``database`` ("sqlite" or "postgresql"), register the flows."""
    with contextlib.ExitStack() as exits:
        url = None
        if database == "postgresql":
            url = exits.enter_context(temporary_postgres_database())
        server = exits.enter_context(temporary_server(env={**SERVER_ENV, **env}, database_url=url))
        marks = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="headwater-chaos-")))
        running = Stack(server, database, marks)
        exits.callback(running.close)
        running.register()
        yield running


def kill_with_children(agent: AgentProcess) -> list[int]:
    """The machine is lost: SIGKILL the agent and every flow-run process it started."""
    import psutil

    try:
        children = psutil.Process(agent.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    agent.kill()
    pids = []
    for child in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
        pids.append(child.pid)
    return pids


def wait_finished(client: Any, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Wait until every run is finished or ``timeout`` passed; the last record of each."""
    deadline = time.monotonic() + timeout
    records: dict[str, dict[str, Any]] = {}
    pending = list(run_ids)
    while pending and time.monotonic() < deadline:
        still = []
        for run_id in pending:
            try:
                record = client.get_flow_run(run_id)
            except Exception:
                still.append(run_id)
                continue
            records[run_id] = record
            if record["state_type"] not in FINISHED:
                still.append(run_id)
        pending = still
        if pending:
            time.sleep(0.25)
    return records


def _marks(marks: Path, run_id: str) -> dict[str, list[tuple[str, int]]]:
    found: dict[str, list[tuple[str, int]]] = {}
    for path in marks.glob(f"{run_id}.*"):
        lines = []
        for line in path.read_text().splitlines():
            what, _, pid = line.partition(" ")
            lines.append((what, int(pid or 0)))
        found[path.name.split(".", 1)[1]] = lines
    return found


def lost_claim_delays(client: Any, run_id: str) -> list[float]:
    """Seconds from a claim whose answer was lost to the run's next Running state."""
    from datetime import datetime

    history = client.get_flow_run_states(run_id)
    delays = []
    lost_at = None
    for i, entry in enumerate(history):
        state = entry["state"]
        if state["type"] == "Scheduled" and "Handed back" in (state.get("message") or ""):
            previous = history[i - 1] if i else None
            if previous is not None and previous["state"]["type"] == "Submitted":
                lost_at = datetime.fromisoformat(str(previous["timestamp"]).replace("Z", "+00:00"))
        elif state["type"] == "Running" and lost_at is not None:
            at = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
            delays.append((at - lost_at).total_seconds())
            lost_at = None
    return delays


def tally(
    counts: Counts,
    st: Stack,
    run_ids: list[str],
    *,
    timeout: float,
    expect: str = "Success",
    tasks: tuple[str, ...] = ("step-1", "step-2", "step-3"),
) -> dict[str, dict[str, Any]]:
    """Wait for ``run_ids`` and add what happened to them to ``counts``."""
    records = wait_finished(st.client, run_ids, timeout)
    counts.runs += len(run_ids)
    for run_id in run_ids:
        record = records.get(run_id)
        if record is None:
            counts.lost += 1
            counts.notes.append(f"{run_id}: no record")
            continue
        state = record["state_type"]
        if state == expect:
            counts.finished += 1
        elif state in FINISHED:
            if record.get("state_message"):
                counts.failed_clear += 1
                why = [
                    f"{t['task_slug']}: {t.get('state_message')}"
                    for t in st.client.query_task_runs(flow_run_id=run_id)
                    if t["state_type"] in FINISHED and t["state_type"] != "Success"
                ]
                counts.notes.append(
                    f"{run_id}: {state}: {record['state_message'][:160]} {why}"[:400]
                )
            else:
                counts.stuck += 1
                counts.notes.append(f"{run_id}: {state} without a message")
        elif state in ("Scheduled", "Submitted", "Pending"):
            counts.lost += 1
            counts.notes.append(f"{run_id}: still {state}")
        else:
            counts.stuck += 1
            counts.notes.append(f"{run_id}: still {state}")
        marks = _marks(st.marks, run_id)
        if _success_recorded_twice(st, run_id):
            counts.executed_twice += 1
            counts.notes.append(f"{run_id}: a task ran again after its success was recorded")
        elif any(sum(1 for what, _ in marks.get(t, []) if what == "done") > 1 for t in tasks):
            # The process died after the task's work but before the server stored its
            # success: running it again is the only safe choice (at least once).
            counts.rerun_unrecorded += 1
        if state == expect and expect == "Success":
            logs = [log["message"] for log in st.client.get_logs(run_id)]
            submitted = [int(m) for line in logs for m in _PID.findall(line)]
            last_pid = submitted[-1] if submitted else None
            for name in tasks:
                done = [pid for what, pid in marks.get(name, []) if what == "done"]
                if (
                    done
                    and done[-1] == last_pid
                    and not any(f"chaos-log {run_id} {name}" in m for m in logs)
                ):
                    counts.logs_lost += 1
                    counts.notes.append(f"{run_id}: log line of {name} missing")
        counts.delays.extend(lost_claim_delays(st.client, run_id))
    return records


def _success_recorded_twice(st: Stack, run_id: str) -> bool:
    """Whether some task run of the run reached Success twice (ran again after success)."""
    for task_run in st.client.query_task_runs(flow_run_id=run_id):
        history = st.client.get_task_run_states(task_run["id"])
        if sum(1 for entry in history if entry["state"]["type"] == "Success") > 1:
            return True
    return False


def server_errors(st: Stack, counts: Counts | None = None) -> int:
    """5xx answers the server logged (every 500 is logged with its traceback)."""
    text = st.server.log_path.read_text(errors="replace") if st.server.log_path.exists() else ""
    found = [
        line
        for line in text.splitlines()
        if "Unexpected error on " in line or "Database error on " in line
    ]
    if counts is not None:
        lines = text.splitlines()
        for line in found[:3]:
            at = lines.index(line)
            counts.notes.append("server: " + " | ".join(lines[at : at + 40])[-600:])
    return len(found)
