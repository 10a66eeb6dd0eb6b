"""Pure helpers of the agent: exit descriptions, timestamps, flow-run environments."""

from __future__ import annotations

import datetime
import os
import signal

import pytest

from headwater.agent._supervision import describe_exit, parse_time
from headwater.agent.base import Agent, _due_time
from headwater.agent.local import flow_run_environment


def test_describe_exit_code_and_stderr_tail() -> None:
    message = describe_exit(3, ["Traceback", "  boom", "RuntimeError: nope", ""])
    assert "exited with code 3" in message
    assert message.endswith("RuntimeError: nope")
    assert "Traceback" in message


def test_describe_exit_signal_and_empty_stderr() -> None:
    message = describe_exit(-signal.SIGKILL, [])
    assert "killed by signal SIGKILL" in message
    assert "wrote nothing to stderr" in message


def test_describe_exit_shutdown_is_explained() -> None:
    assert "agent shut down" in describe_exit(-15, ["x"], shutdown=True)


def test_describe_exit_keeps_only_the_last_lines() -> None:
    message = describe_exit(1, [f"line {i}" for i in range(100)])
    assert "line 99" in message
    assert "line 50\n" not in message


def test_parse_time() -> None:
    parsed = parse_time("2026-11-23T20:00:00")
    assert parsed == datetime.datetime(2026, 11, 23, 20, tzinfo=datetime.UTC)
    assert parse_time("2026-11-23T20:00:00Z") == parsed
    assert parse_time("garbage") is None
    assert parse_time(None) is None


def test_due_time_takes_the_latest_known_start() -> None:
    run = {
        "scheduled_start_time": "2026-11-23T20:00:00+00:00",
        "state": {
            "type": "Submitted",
            "state": {"type": "Retrying", "start_time": "2026-11-23T21:00:00+00:00"},
        },
    }
    assert _due_time(run) == datetime.datetime(2026, 11, 23, 21, tzinfo=datetime.UTC)
    assert _due_time({"state": None}) is None


def test_environment_precedence_and_backend_variables() -> None:
    run = {
        "id": "run-1",
        "run_config": {"type": "LocalRun", "env": {"A": "run", "B": "run"}},
    }
    env = flow_run_environment(
        run,
        base={
            "A": "base",
            "C": "base",
            "HEADWATER__FLOW_RUN__FLOW_RUN_ID": "stale",
            "HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL": "2",
            "PYTHONPATH": "/x",
        },
        agent_env={"A": "agent", "B": "agent", "D": "agent"},
        api_url="http://127.0.0.1:1/api",
        api_key="secret",
        agent_id="agent-1",
        import_paths=["/flows"],
    )
    assert env["A"] == "run" and env["B"] == "run"
    assert env["C"] == "base" and env["D"] == "agent"
    assert env["HEADWATER__FLOW_RUN__FLOW_RUN_ID"] == "run-1"
    assert env["HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL"] == "2"
    assert env["HEADWATER__FLOW_RUN__AGENT_ID"] == "agent-1"
    assert env["HEADWATER_API_URL"] == "http://127.0.0.1:1/api"
    assert env["HEADWATER_API_KEY"] == "secret"
    assert env["PYTHONPATH"] == os.pathsep.join(["/flows", "/x"])


def test_environment_without_run_config() -> None:
    env = flow_run_environment(
        {"id": "r", "run_config": None},
        base={},
        agent_env={},
        api_url=None,
        api_key=None,
        agent_id=None,
    )
    assert env["HEADWATER__FLOW_RUN__FLOW_RUN_ID"] == "r"
    assert "HEADWATER_API_KEY" not in env


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"claim_timeout": 0}, "claim_timeout"),
        ({"cancel_grace": -1}, "cancel_grace"),
        ({"api_url": "localhost:4200/api"}, "api_url"),
    ],
)
def test_agent_rejects_bad_settings(kwargs: dict[str, float], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        Agent(**kwargs)  # type: ignore[arg-type]


def test_agent_without_labels_has_none() -> None:
    assert Agent().labels == []
    assert Agent(labels=["b", "a", "b"]).labels == ["a", "b"]


def test_flow_run_process_environment_keeps_config_backend() -> None:
    """The variables a flow-run process receives must not clobber ``config.backend``."""
    import subprocess
    import sys

    env = flow_run_environment(
        {"id": "run-1", "run_config": None},
        base=dict(os.environ),
        agent_env={
            "HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL": "2",
            "HEADWATER__FLOW_RUN__LOG_FLUSH_INTERVAL": "0.1",
            "HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS": "5",
        },
        api_url="http://127.0.0.1:1/api",
        api_key=None,
        agent_id="agent-1",
    )
    assert not [k for k in env if k.startswith("HEADWATER__BACKEND__")]
    out = subprocess.run(
        [sys.executable, "-c", "import headwater; print(headwater.config.backend)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "server"
