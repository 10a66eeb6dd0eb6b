"""The local agent: one subprocess per flow run, on the agent's machine."""

from headwater.agent.local._agent import LocalAgent, flow_run_environment

__all__ = ["LocalAgent", "flow_run_environment"]
