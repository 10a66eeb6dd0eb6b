"""The fork server with real processes: forked children, process groups, exit codes.

The children run flow runs against a server that is not there (port 9), so they stop
on their own (after a bounded retry) or wait until they are terminated.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest

from headwater.agent.local import LocalAgent
from headwater.agent.local._forkserver import ForkServer, ForkServerError

pytestmark = pytest.mark.timeout(120)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HEADWATER_API_URL="http://127.0.0.1:9/api",
        HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def forks() -> Iterator[ForkServer]:
    # The server's own environment lets a run retry for a minute; runs say otherwise.
    server = ForkServer(_env(HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS="60"))
    server.start()
    yield server
    server.stop()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_forked_run_has_its_own_group_stderr_tail_and_exit_code(
    forks: ForkServer, tmp_path: os.PathLike[str]
) -> None:
    process = forks.start_run("run-1", _env(SOME_SETTING="x"), cwd=str(tmp_path))
    child = psutil.Process(process.pid)
    assert child.ppid() == forks.pid
    assert os.getpgid(process.pid) == process.pid
    assert os.getsid(process.pid) == process.pid
    # The server is unreachable and no retry is allowed: the run gives up, exit code 1.
    assert process.wait(timeout=60) == 1
    assert process.poll() == 1
    tail = process.stderr_tail()
    assert any("ConnectError" in line for line in tail), tail  # the traceback it logged
    assert _gone(process.pid)


def test_the_child_takes_the_runs_environment_and_working_directory(
    forks: ForkServer, tmp_path: os.PathLike[str]
) -> None:
    started = time.monotonic()
    process = forks.start_run("run-2", _env(), cwd=str(tmp_path))
    # The run's environment allows no retry (the server's a minute): it gives up at once.
    assert process.wait(timeout=50) == 1
    assert time.monotonic() - started < 50


def test_terminate_stops_the_whole_group(forks: ForkServer, tmp_path: os.PathLike[str]) -> None:
    # Retrying for a minute: the child is still alive when it is terminated.
    env = _env(HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS="60")
    process = forks.start_run("run-3", env, cwd=str(tmp_path))
    assert process.poll() is None
    deadline = time.monotonic() + 30
    while psutil.Process(process.pid).cwd() != str(tmp_path):
        assert time.monotonic() < deadline, "the child did not change to the run's directory"
        time.sleep(0.05)
    process.terminate(grace=5.0)
    code = process.wait(timeout=30)
    assert code is not None
    assert _gone(process.pid)


def test_runs_started_by_a_dead_server_are_still_supervised(forks: ForkServer) -> None:
    process = forks.start_run("run-4", _env(HEADWATER__FLOW_RUN__SERVER_RETRY_SECONDS="60"))
    server_pid = forks.pid
    assert server_pid is not None
    os.kill(server_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while forks.running():
        assert time.monotonic() < deadline, "the agent did not notice the dead fork server"
        time.sleep(0.05)
    assert process.poll() is None  # the run is not the server's thread: it goes on
    with pytest.raises(ForkServerError, match="not running"):
        forks.start_run("run-5", _env())
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) is not None


def test_interpreter_start_up_variables_need_a_spawned_process(forks: ForkServer) -> None:
    assert forks.can_run(_env(ANYTHING="1"))
    assert not forks.can_run(_env(PYTHONHASHSEED="7"))
    assert not forks.can_run(_env(LD_PRELOAD="/nothing.so"))
    env = _env()
    env.pop("PYTHONUNBUFFERED")
    assert not forks.can_run(env)


def test_the_agent_falls_back_to_spawning(tmp_path: os.PathLike[str]) -> None:
    agent = LocalAgent(api_url="http://127.0.0.1:9/api")
    agent.agent_id = "agent-1"
    try:
        agent.on_started()
        assert agent._forks is not None and agent._forks.running()
        assert agent._spare is None  # the fork server replaces the warm spare
        run = {"id": "run-6", "run_config": {"type": "LocalRun", "env": {"PYTHONHASHSEED": "1"}}}
        spawned = agent.deploy_flow(run)
        assert psutil.Process(spawned.pid).ppid() == os.getpid()
        forked = agent.deploy_flow({"id": "run-7", "run_config": {"working_dir": str(tmp_path)}})
        assert psutil.Process(forked.pid).ppid() == agent._forks.pid
        for process in (spawned, forked):
            process.terminate(grace=5.0)
            assert process.wait(timeout=30) is not None
    finally:
        agent.on_stopped()
