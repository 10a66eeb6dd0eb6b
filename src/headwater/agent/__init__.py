"""Agents: processes that claim due flow runs from the server and execute them.

``headwater.agent.local.LocalAgent`` runs each flow run as a subprocess; the shared loop
(claim, deploy, supervise, cancel) lives in ``headwater.agent.base.Agent``.
"""

from headwater.agent.base import Agent, RunProcess
from headwater.agent.local import LocalAgent

__all__ = ["Agent", "LocalAgent", "RunProcess"]
