"""The agent loop against an in-memory stand-in for the client (no processes, no server).

End-to-end behaviour with the real server and real processes is covered in tests/e2e.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from headwater.agent.base import Agent
from support.waiting import wait_until as _wait_for

pytest.importorskip("headwater.engine.state")


class FakeClient:
    def __init__(self) -> None:
        self.answers: queue.Queue[dict[str, Any] | Exception] = queue.Queue()
        self.claims: list[tuple[int, list[str]]] = []
        self.states: dict[str, str] = {}
        self.set_states: list[tuple[str, str, str | None]] = []
        self.logs: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def register_agent(self, agent_type: str, name: str | None, labels: list[str]) -> str:
        return "agent-1"

    def claim_flow_runs(
        self,
        agent_id: str,
        timeout: float,
        limit: int,
        running: list[str],
        token: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            self.claims.append((limit, list(running)))
        try:
            answer = self.answers.get(timeout=min(timeout, 0.05))
        except queue.Empty:
            return {"flow_runs": [], "cancel": []}
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_flow_run(self, flow_run_id: str) -> dict[str, Any]:
        return {"id": flow_run_id, "state_type": self.states.get(flow_run_id, "Submitted")}

    def set_flow_run_state(self, flow_run_id: str, state: Any, agent_id: str | None = None) -> Any:
        with self.lock:
            self.states[flow_run_id] = type(state).__name__
            self.set_states.append((flow_run_id, type(state).__name__, state.message))
        return state

    def write_run_logs(self, logs: list[dict[str, Any]]) -> None:
        with self.lock:
            self.logs.extend(logs)


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exited = threading.Event()
        self.code: int | None = None
        self.terminated = threading.Event()
        self.tail: list[str] = []

    def exit(self, code: int) -> None:
        self.code = code
        self.exited.set()

    def poll(self) -> int | None:
        return self.code if self.exited.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        return self.code if self.exited.wait(timeout) else None

    def terminate(self, grace: float) -> None:
        self.terminated.set()
        self.exit(-15)

    def stderr_tail(self) -> list[str]:
        return self.tail


class FakeAgent(Agent):
    def __init__(self, client: FakeClient, **kwargs: Any) -> None:
        super().__init__(client=client, **kwargs)  # type: ignore[arg-type]
        self.processes: dict[str, FakeProcess] = {}
        self.deployed_at: dict[str, float] = {}

    def deploy_flow(self, flow_run: dict[str, Any]) -> FakeProcess:
        process = FakeProcess(len(self.processes) + 100)
        self.processes[flow_run["id"]] = process
        self.deployed_at[flow_run["id"]] = time.monotonic()
        return process


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def run_agent(client: FakeClient) -> Iterator[Callable[..., FakeAgent]]:
    agents: list[tuple[FakeAgent, threading.Thread]] = []

    def start(**kwargs: Any) -> FakeAgent:
        kwargs.setdefault("shutdown_grace", 0.0)
        agent = FakeAgent(client, **kwargs)
        thread = threading.Thread(target=agent.start, daemon=True)
        thread.start()
        agents.append((agent, thread))
        return agent

    yield start
    for agent, thread in agents:
        for process in agent.processes.values():
            process.exit(0)
        agent.stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def _run(run_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": run_id, "state": {"type": "Submitted"}, "run_config": None, **extra}


def test_claim_limit_is_the_number_of_free_slots(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    agent = run_agent(max_concurrent=2)
    client.answers.put({"flow_runs": [_run("a"), _run("b")], "cancel": []})
    _wait_for(lambda: len(agent.processes) == 2)
    _wait_for(lambda: client.claims[-1] == (0, ["a", "b"]))
    agent.processes["a"].exit(0)
    client.states["a"] = "Success"
    _wait_for(lambda: client.claims[-1] == (1, ["b"]))
    assert client.claims[0][0] == 2


def test_silent_exit_fails_the_run_with_code_and_stderr(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    agent = run_agent()
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    _wait_for(lambda: "a" in agent.processes)
    agent.processes["a"].tail = ["Traceback (most recent call last):", "MemoryError"]
    agent.processes["a"].exit(3)
    _wait_for(lambda: client.states.get("a") == "Failed")
    message = client.set_states[-1][2]
    assert "exited with code 3" in message and "MemoryError" in message
    assert any(log["level"] == "ERROR" and "MemoryError" in log["message"] for log in client.logs)
    assert any("Submitted for execution: PID: 100" in log["message"] for log in client.logs)


def test_cancel_terminates_and_ends_cancelled(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    agent = run_agent()
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    _wait_for(lambda: "a" in agent.processes)
    client.states["a"] = "Cancelling"
    client.answers.put({"flow_runs": [], "cancel": ["a"]})
    _wait_for(agent.processes["a"].terminated.is_set)
    _wait_for(lambda: client.states.get("a") == "Cancelled")
    _wait_for(lambda: client.claims[-1][1] == [])


def test_a_finished_run_listed_for_cancel_may_exit_by_itself(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    agent = run_agent(cancel_grace=5.0)
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    _wait_for(lambda: "a" in agent.processes)
    client.states["a"] = "Success"
    client.answers.put({"flow_runs": [], "cancel": ["a"]})
    _wait_for(lambda: client.claims[-1][1] == [])  # no longer listed as running
    agent.processes["a"].exit(0)
    _wait_for(lambda: agent.running_flow_run_ids == [])
    assert not agent.processes["a"].terminated.is_set()
    assert client.set_states == []


def test_connection_errors_back_off_and_recover(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    agent = run_agent()
    client.answers.put(ConnectionError("refused"))
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    _wait_for(lambda: "a" in agent.processes)


def test_a_run_is_not_started_before_its_scheduled_time(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    import datetime

    agent = run_agent()
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.5)
    claimed = time.monotonic()
    client.answers.put(
        {"flow_runs": [_run("a", scheduled_start_time=start.isoformat())], "cancel": []}
    )
    _wait_for(lambda: "a" in agent.processes)
    assert agent.deployed_at["a"] - claimed >= 0.4


def test_shutdown_terminates_running_processes_and_fails_their_runs(
    client: FakeClient,
) -> None:
    agent = FakeAgent(client, shutdown_grace=0.1)
    thread = threading.Thread(target=agent.start, daemon=True)
    thread.start()
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    _wait_for(lambda: "a" in agent.processes)
    agent.stop()
    thread.join(timeout=10)
    assert agent.processes["a"].terminated.is_set()
    assert client.states["a"] == "Failed"
    assert "agent shut down" in client.set_states[-1][2]


def test_an_agent_unknown_to_the_server_registers_again(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    from headwater.exceptions import ObjectNotFound

    registrations: list[str] = []
    original = client.register_agent

    def register(*args: Any, **kwargs: Any) -> str:
        registrations.append("x")
        return original(*args, **kwargs)

    client.register_agent = register  # type: ignore[method-assign]
    agent = run_agent()
    client.answers.put(ObjectNotFound("Agent not found"))
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    _wait_for(lambda: "a" in agent.processes)
    assert len(registrations) == 2


def test_max_polls_stops_claiming_and_returns_once_its_runs_ended(
    client: FakeClient, run_agent: Callable[..., FakeAgent]
) -> None:
    client.answers.put({"flow_runs": [_run("a")], "cancel": []})
    agent = run_agent(max_polls=2)
    _wait_for(lambda: "a" in agent.processes)
    # Both polls are used; the agent keeps listening for cancellations with limit=0.
    _wait_for(lambda: any(limit == 0 for limit, _ in client.claims))
    assert agent.polls == 2
    assert [limit for limit, _ in client.claims].count(25) == 2
    assert not agent.wait_stopped(0.1)
    client.states["a"] = "Success"
    agent.processes["a"].exit(0)
    assert agent.wait_stopped(10)
    assert agent.polls == 2


def test_max_polls_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_polls must be at least 1"):
        FakeAgent(FakeClient(), max_polls=0)
