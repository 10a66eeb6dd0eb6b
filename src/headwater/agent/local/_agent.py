"""LocalAgent: runs every claimed flow run as a subprocess on this machine."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from headwater.agent.base import Agent
from headwater.agent.local._process import FlowRunProcess

__all__ = ["LocalAgent", "flow_run_environment"]

# Variables that must never leak from the agent into a run: they would point the flow-run
# process at another run or another server.
_STRIPPED_PREFIXES = ("HEADWATER__BACKEND__", "HEADWATER__CONTEXT__")


class LocalAgent(Agent):
    """Runs flow runs as local subprocesses (``python -m headwater.engine.backend ID``).

    Args:
        import_paths: Directories put on the flow-run process's ``PYTHONPATH``.
        show_flow_logs: Pass the flow-run processes' stdout/stderr through to the agent's.
        **kwargs: Passed to :class:`~headwater.agent.base.Agent`.
    """

    agent_type = "LocalAgent"

    def __init__(
        self,
        *args: Any,
        import_paths: Iterable[str] | None = None,
        show_flow_logs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.import_paths = [os.path.abspath(p) for p in import_paths or ()]
        self.show_flow_logs = show_flow_logs

    def deploy_flow(self, flow_run: dict[str, Any]) -> FlowRunProcess:
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
    env = {k: v for k, v in base.items() if not k.startswith(_STRIPPED_PREFIXES)}
    env.update(agent_env)
    run_config = flow_run.get("run_config") or {}
    run_env = run_config.get("env") if isinstance(run_config, dict) else None
    if isinstance(run_env, dict):
        env.update({str(k): str(v) for k, v in run_env.items() if v is not None})
    if api_url:
        env["HEADWATER_API_URL"] = api_url
    if api_key:
        env["HEADWATER_API_KEY"] = api_key
    env["HEADWATER__BACKEND__FLOW_RUN_ID"] = str(flow_run["id"])
    if agent_id:
        env["HEADWATER__BACKEND__AGENT_ID"] = agent_id
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
