"""The local agent's warm spare: one at a time, handed only runs it can take."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from headwater.agent.local import LocalAgent


@pytest.fixture
def agent() -> Iterator[LocalAgent]:
    instance = LocalAgent(api_url="http://127.0.0.1:9/api")
    instance.agent_id = "agent-1"
    yield instance
    instance.on_stopped()


def _env(agent: LocalAgent, **extra: str) -> dict[str, str]:
    env = agent._base_environment()
    env["HEADWATER__FLOW_RUN__FLOW_RUN_ID"] = "run-1"
    env.update(extra)
    return env


def test_starting_a_spare_twice_keeps_the_waiting_one(agent: LocalAgent) -> None:
    agent._start_spare()
    first = agent._spare
    assert first is not None and first.poll() is None
    agent._start_spare()
    assert agent._spare is first


def test_a_run_with_a_working_dir_gets_a_fresh_process(agent: LocalAgent) -> None:
    agent._start_spare()
    first = agent._spare
    assert first is not None
    assert agent._use_spare(_env(agent), working_dir=os.getcwd(), run_id="run-1") is None
    assert first.wait(timeout=10) is not None  # retired, not left waiting
    assert agent._spare is not None and agent._spare is not first


def test_a_run_setting_interpreter_variables_gets_a_fresh_process(agent: LocalAgent) -> None:
    agent._start_spare()
    env = _env(agent, PYTHONHASHSEED="1")
    assert agent._use_spare(env, working_dir=None, run_id="run-1") is None


def test_a_compatible_run_is_handed_to_the_spare(agent: LocalAgent) -> None:
    agent._start_spare()
    first = agent._spare
    handed = agent._use_spare(_env(agent, SOME_SETTING="x"), working_dir=None, run_id="run-1")
    assert handed is first
    assert agent._spare is not None and agent._spare is not first
    # The spare now runs the run; the server is unreachable, so it gives up and exits.
    handed.terminate(grace=1.0)
    assert handed.wait(timeout=10) is not None
