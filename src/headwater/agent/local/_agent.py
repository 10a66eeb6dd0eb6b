"""LocalAgent: runs every claimed flow run as a subprocess on this machine."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

from headwater.agent.base import Agent, RunProcess
from headwater.agent.local._forkserver import ForkServer, ForkServerError
from headwater.agent.local._process import FlowRunProcess

__all__ = ["LocalAgent", "flow_run_environment"]

# Variables that must never leak from the agent's environment into a run: they name one
# particular run (settings such as HEADWATER__FLOW_RUN__HEARTBEAT_INTERVAL do pass).
_STRIPPED = frozenset(
    {
        "HEADWATER__FLOW_RUN__FLOW_RUN_ID",
        "HEADWATER__FLOW_RUN__AGENT_ID",
        "HEADWATER__CONTEXT__FLOW_RUN_ID",
        "HEADWATER__CONTEXT__FLOW_RUN_NAME",
    }
)
# Variables read when the interpreter starts: a warm spare cannot take them on later.
_STARTUP_PREFIXES = ("PYTHON", "LD_")

logger = logging.getLogger("headwater.agent")


class LocalAgent(Agent):
    """Runs flow runs as local subprocesses (``python -m headwater.engine.backend ID``).

    Args:
        import_paths: Directories put on the flow-run process's ``PYTHONPATH``.
        show_flow_logs: Pass the flow-run processes' stdout/stderr through to the agent's.
        warm_spare: Keep one flow-run process started ahead of time, with the engine and
            client already imported, and hand the next run to it. It is used only for
            runs whose run config sets no working directory and no variables that act at
            interpreter start-up (``PYTHON*``, ``LD_*``); other runs get a fresh process.
            Used only when the fork server is off or cannot start.
        fork_server: Start runs by forking a warm process that has imported the engine
            and the client (a few milliseconds instead of an interpreter start). Runs
            whose run config changes variables read at interpreter start-up
            (``PYTHON*``, ``LD_*``) are spawned as fresh processes instead.
        **kwargs: Passed to :class:`~headwater.agent.base.Agent`.
    """

    agent_type = "LocalAgent"

    def __init__(
        self,
        *args: Any,
        import_paths: Iterable[str] | None = None,
        show_flow_logs: bool = False,
        warm_spare: bool = True,
        fork_server: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.import_paths = [os.path.abspath(p) for p in import_paths or ()]
        self.show_flow_logs = show_flow_logs
        self.warm_spare = warm_spare
        self._spare: FlowRunProcess | None = None
        self._spare_env: dict[str, str] = {}
        self._spare_lock = threading.Lock()
        self.fork_server = fork_server and hasattr(os, "fork")
        self._forks: ForkServer | None = None
        self._forks_lock = threading.Lock()

    def on_started(self) -> None:
        """Start the fork server (or, without one, the first warm spare process)."""
        if self.fork_server and self._fork_server() is not None:
            return
        if self.warm_spare:
            self._start_spare()

    def _fork_server(self) -> ForkServer | None:
        """The running fork server, started (again) if needed; None if it cannot start."""
        with self._forks_lock:
            if self._forks is not None and self._forks.running():
                return self._forks
            if self._forks is not None:
                self._forks.stop()
            self._forks = ForkServer(self._base_environment())
            try:
                self._forks.start()
            except ForkServerError as exc:
                logger.warning("Could not start the fork server, spawning runs: %s", exc)
                self._forks = None
                self.fork_server = False
            return self._forks

    def _fork(self, env: dict[str, str], working_dir: str | None, run_id: str) -> RunProcess | None:
        """The run forked from the fork server, or None when it must be spawned."""
        if not self.fork_server or self._stopping.is_set():
            return None
        server = self._fork_server()
        if server is None or not server.can_run(env):
            return None
        try:
            return server.start_run(run_id, env, cwd=working_dir, show_output=self.show_flow_logs)
        except ForkServerError as exc:
            logger.warning("Fork server could not start run %s, spawning it: %s", run_id, exc)
            return None

    def on_stopped(self) -> None:
        """Stop the fork server and the warm spare (closing its stdin makes it exit)."""
        with self._forks_lock:
            forks, self._forks = self._forks, None
        if forks is not None:
            forks.stop()
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.terminate(grace=2.0)
            spare.wait(5.0)

    def _base_environment(self) -> dict[str, str]:
        env = flow_run_environment(
            {"id": ""},
            base=os.environ,
            agent_env=self.env_vars,
            api_url=self.api_url or _client_attr(self, "api_url"),
            api_key=self.api_key or _client_attr(self, "api_key"),
            agent_id=self.agent_id,
            import_paths=self.import_paths,
        )
        env.pop("HEADWATER__FLOW_RUN__FLOW_RUN_ID", None)
        return env

    def _start_spare(self) -> None:
        """Start a warm spare unless one is waiting already (bursts never pile them up)."""
        with self._spare_lock:
            if self._spare is not None and self._spare.poll() is None:
                return
            env = self._base_environment()
            command = [sys.executable, "-m", "headwater.engine.backend", "--spare"]
            try:
                self._spare = FlowRunProcess(
                    command, env, show_output=self.show_flow_logs, spare=True
                )
            except OSError as exc:
                logger.warning("Could not start a warm flow-run process: %s", exc)
                self._spare = None
                return
            self._spare_env = env

    def _use_spare(
        self, env: dict[str, str], working_dir: str | None, run_id: str
    ) -> FlowRunProcess | None:
        """Hand the run to the warm spare if it can take it; start the next spare."""
        if not self.warm_spare or self._stopping.is_set():
            return None
        with self._spare_lock:
            spare, spare_env, self._spare = self._spare, self._spare_env, None
        if spare is None:
            self._start_spare()
            return None
        changed = {k: v for k, v in env.items() if spare_env.get(k) != v}
        compatible = (
            working_dir is None
            and all(k in env for k in spare_env)
            and not any(k.startswith(_STARTUP_PREFIXES) for k in changed)
        )
        handed = compatible and spare.hand_over({"flow_run_id": run_id, "env": changed})
        self._start_spare()
        if handed:
            return spare
        spare.terminate(grace=0.0)
        return None

    def deploy_flow(self, flow_run: dict[str, Any]) -> RunProcess:
        """Start the flow-run process for a claimed run.

        Args:
            flow_run: The claimed run as the API returns it.

        Returns:
            The started process.

        Raises:
            ValueError: The run config's working directory does not exist.
        """
        run_config = flow_run.get("run_config") or {}
        working_dir = run_config.get("working_dir") if isinstance(run_config, dict) else None
        if working_dir is not None and not os.path.isdir(working_dir):
            raise ValueError(f"The run config's working_dir {working_dir!r} does not exist")
        env = flow_run_environment(
            flow_run,
            base=os.environ,
            agent_env=self.env_vars,
            api_url=self.api_url or _client_attr(self, "api_url"),
            api_key=self.api_key or _client_attr(self, "api_key"),
            agent_id=self.agent_id,
            import_paths=self.import_paths,
        )
        forked = self._fork(env, working_dir, str(flow_run["id"]))
        if forked is not None:
            return forked
        # A run the fork server cannot take needs a fresh interpreter, not the spare.
        warm = None if self.fork_server else self._use_spare(env, working_dir, str(flow_run["id"]))
        if warm is not None:
            return warm
        command = [sys.executable, "-m", "headwater.engine.backend", str(flow_run["id"])]
        return FlowRunProcess(command, env, cwd=working_dir, show_output=self.show_flow_logs)


def flow_run_environment(
    flow_run: dict[str, Any],
    base: dict[str, str] | os._Environ[str],
    agent_env: dict[str, str],
    api_url: str | None,
    api_key: str | None,
    agent_id: str | None,
    import_paths: Iterable[str] = (),
) -> dict[str, str]:
    """Build the environment of a flow-run process.

    Later sources win: the agent's own environment, the agent's ``--env`` values, the run
    config's ``env``, then the variables that tell the process which run it executes and
    which server to report to.

    Args:
        flow_run: The claimed run.
        base: The agent's environment.
        agent_env: Extra variables given to the agent.
        api_url: Server API URL the process reports to.
        api_key: API key, if any.
        agent_id: Id of the agent that deployed the run.
        import_paths: Directories to prepend to ``PYTHONPATH``.

    Returns:
        The complete environment.
    """
    env = {k: v for k, v in base.items() if k not in _STRIPPED}
    env.update(agent_env)
    run_config = flow_run.get("run_config") or {}
    run_env = run_config.get("env") if isinstance(run_config, dict) else None
    if isinstance(run_env, dict):
        env.update({str(k): str(v) for k, v in run_env.items() if v is not None})
    if api_url:
        env["HEADWATER_API_URL"] = api_url
    if api_key:
        env["HEADWATER_API_KEY"] = api_key
    env["HEADWATER__FLOW_RUN__FLOW_RUN_ID"] = str(flow_run["id"])
    if agent_id:
        env["HEADWATER__FLOW_RUN__AGENT_ID"] = agent_id
    env["HEADWATER__CONTEXT__RUNNING_WITH_BACKEND"] = "true"
    paths = list(import_paths)
    if paths:
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join([*paths, *([existing] if existing else [])])
    # Unbuffered output keeps the stderr tail complete when the process dies abruptly.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _client_attr(agent: Agent, name: str) -> str | None:
    value = getattr(agent.client, name, None)
    return value if isinstance(value, str) and value else None
