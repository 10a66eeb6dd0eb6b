"""DaskExecutor against a real cluster: ``dask scheduler`` and ``dask worker`` as processes.

The scheduler and one worker (two threads, no nanny) are started with the ``dask`` command
on loopback with a free port, once for this module; they are always killed afterwards.
Task code runs in the worker process: the worker gets this directory on its PYTHONPATH so
functions defined here are importable there, as they would be in a real deployment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.executors import DaskExecutor
from headwater.utilities.context import context

pytestmark = [pytest.mark.dask, pytest.mark.slow, pytest.mark.xdist_group("dask-cluster")]

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dask_command(role: str) -> list[str]:
    cli = Path(sys.executable).parent / "dask"
    if cli.exists():
        return [str(cli), role]
    found = shutil.which("dask")
    if found:
        return [found, role]
    module = {
        "scheduler": "distributed.cli.dask_scheduler",
        "worker": "distributed.cli.dask_worker",
    }
    return [sys.executable, "-m", module[role]]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with status {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"dask scheduler did not listen on port {port}")


class Cluster:
    """Addresses and processes of the running test cluster."""

    def __init__(self, address: str, worker: subprocess.Popen[bytes], logs: Path) -> None:
        self.address = address
        self.worker = worker
        self.logs = logs


@contextlib.contextmanager
def _dask_cluster(workdir: Path, worker_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """Start a scheduler and one worker (two threads) on a free loopback port."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(workdir / "scheduler.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        *_dask_command("scheduler"),
                        *("--host", "127.0.0.1", "--port", str(port), "--no-dashboard"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    env=env,
                    start_new_session=True,
                )
            )
        _wait_for_port(port, procs[0], time.monotonic() + 60)
        with open(workdir / "worker.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        *_dask_command("worker"),
                        address,
                        *("--nthreads", "2", "--nworkers", "1", "--no-nanny", "--no-dashboard"),
                        *("--local-directory", str(workdir / "worker-space")),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    env={**env, **(worker_env or {})},
                    start_new_session=True,
                )
            )
        with Client(address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield Cluster(address, procs[1], workdir)
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with _dask_cluster(tmp_path_factory.mktemp("dask-cluster")) as running:
        yield running


def worker_pid() -> int:
    return os.getpid()


def inc(x: int) -> int:
    return x + 1


def total(values: list[int]) -> int:
    return sum(values)


def read_context() -> Any:
    return (context.get("flow_name"), context.get("flow_run_id"))


def explode(x: int) -> int:
    raise RuntimeError(f"exploded on {x}")


def test_calls_run_in_the_worker_process(cluster: Cluster) -> None:
    ex = DaskExecutor(address=cluster.address)
    with ex.start():
        pids = ex.wait([ex.submit(worker_pid) for _ in range(4)])
    assert set(pids) == {cluster.worker.pid}
    assert os.getpid() not in pids


def test_dependencies_nesting_context_and_errors_across_processes(cluster: Cluster) -> None:
    ex = DaskExecutor(address=cluster.address)
    with context(flow_name="remote-flow", flow_run_id="abc"), ex.start():
        mapped = [ex.submit(inc, i) for i in range(10)]
        summed = ex.submit(total, mapped)
        ctx = ex.submit(read_context)
        failed = ex.submit(explode, 3)
        after_failure = ex.submit(inc, failed)
        assert ex.wait({"sum": summed, "ctx": ctx}) == {
            "sum": sum(range(1, 11)),
            "ctx": ("remote-flow", "abc"),
        }
        with pytest.raises(RuntimeError, match="exploded on 3"):
            ex.wait(after_failure)
    # the executor only disconnected: the cluster is still there for the next run
    assert cluster.worker.poll() is None


# --- flows on the cluster -------------------------------------------------------------


def _flow_tasks() -> Any:
    from headwater import task

    @task
    def numbers(n: int) -> list[int]:
        return list(range(n))

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def where() -> int:
        return os.getpid()

    @task
    def flaky() -> int:
        run_count = int(context.get("task_run_count", 1))
        if run_count < 2:
            raise RuntimeError("first attempt fails")
        return run_count

    @task
    def broken(values: list[int]) -> None:
        raise ValueError(f"cannot handle {len(values)} values")

    return numbers, square, where, flaky, broken


def test_flow_runs_on_the_cluster(cluster: Cluster) -> None:
    import datetime

    from headwater import Flow, Parameter

    numbers, square, where, flaky, broken = _flow_tasks()
    with Flow("on-dask") as flow:
        n = Parameter("n", default=4)
        squares = square.map(numbers(n))
        pid = where()
        retried = flaky.copy(max_retries=1, retry_delay=datetime.timedelta(seconds=0))()
        failed = broken(squares)
    state = flow.run(parameters={"n": 6}, executor=DaskExecutor(address=cluster.address))
    assert state.is_failed()
    assert state.result[squares].is_mapped()
    assert state.result[squares].result == [0, 1, 4, 9, 16, 25]
    assert [child.result for child in state.result[squares].map_states] == [0, 1, 4, 9, 16, 25]
    assert state.result[pid].result == cluster.worker.pid
    assert state.result[retried].is_successful()
    assert state.result[retried].result == 2
    assert state.result[failed].is_failed()
    assert "cannot handle 6 values" in str(state.result[failed].message)


def test_same_flow_twice_on_one_cluster(cluster: Cluster) -> None:
    from headwater import Flow

    numbers, square, _, _, _ = _flow_tasks()
    with Flow("twice") as flow:
        squares = square.map(numbers(3))
    executor = DaskExecutor(address=cluster.address)
    first = flow.run(executor=executor)
    second = flow.run(executor=executor)
    assert first.result[squares].result == second.result[squares].result == [0, 1, 4]
    assert cluster.worker.poll() is None


# --- backend runs scaled out on the cluster -------------------------------------------

_BACKEND_FLOW = """
import os

from headwater import Flow, task
from headwater.executors import DaskExecutor


@task
def numbers():
    return [1, 2, 3]


@task
def where(x):
    return (x, os.getpid())


with Flow("scaled-out", executor=DaskExecutor(address=os.environ["MATRIX_DASK_ADDRESS"])) as flow:
    where.map(numbers())
"""


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_backend_run_scales_out_to_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Workers report task runs to the server themselves, so (as in Prefect 1) they are
    # configured with the server's address.
    import runpy

    import cloudpickle

    from headwater.client import Client
    from headwater.storage import Local
    from headwater.testing import temporary_server
    from headwater.testing_agent import temporary_agent, wait_for_flow_run_state

    script = tmp_path / "scaled_out.py"
    script.write_text(_BACKEND_FLOW)
    with temporary_server() as server:
        worker_env = {"HEADWATER_API_URL": server.api_url}
        with (
            _dask_cluster(tmp_path, worker_env) as running,
            temporary_agent(server.api_url, env={"MATRIX_DASK_ADDRESS": running.address}),
        ):
            client = Client(api_server=server.api_url)
            client.create_project("scale-out")
            monkeypatch.setenv("MATRIX_DASK_ADDRESS", running.address)
            flow = runpy.run_path(str(script), run_name="scaled_out")["flow"]
            flow.storage = Local(path=str(script), stored_as_script=True)
            flow_id = client.register(flow, project_name="scale-out")
            run_id = client.create_flow_run(flow_id=flow_id)
            run = wait_for_flow_run_state(client, run_id, timeout=120)
            assert run["state_type"] == "Success", run
            children = [
                tr
                for tr in client.query_task_runs(flow_run_id=run_id)
                if tr["task_slug"].startswith("where") and tr["map_index"] >= 0
            ]
            assert sorted(tr["state_type"] for tr in children) == ["Success"] * 3
            values = sorted(cloudpickle.loads(client.download_result(tr["id"])) for tr in children)
            assert [x for x, _ in values] == [1, 2, 3]
            assert {pid for _, pid in values} == {running.worker.pid}
