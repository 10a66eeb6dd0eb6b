"""Client methods for agents (``/agents``) and their long-poll claim."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from headwater.client._base import route
from headwater.client._resource import Resource

__all__ = ["AgentsMixin"]

_REGISTER = route("POST", "/agents", idempotent=True)
_LIST = route("GET", "/agents")
# A claim that may have been applied cannot be repeated blindly: the runs it handed out
# would sit Submitted to this agent. Only never-sent claims are retried.
_STATS = route("PUT", "/agents/{agent_id}/stats", idempotent=True)
_CLAIM = route("POST", "/agents/{agent_id}/claim", idempotent=False)


class AgentsMixin(Resource):
    """Register agents and claim flow runs for them."""

    def register_agent(
        self, agent_type: str, name: str | None = None, labels: Iterable[str] | None = None
    ) -> str:
        """Register an agent (an identical earlier record is reused).

        Args:
            agent_type: e.g. ``"LocalAgent"``.
            name: the agent's name (defaults to its type).
            labels: labels the agent serves.

        Returns:
            The agent's id.
        """
        body = {"name": name or agent_type, "type": agent_type, "labels": list(labels or [])}
        return str(self._transport.json(_REGISTER, json_body=body)["id"])

    def get_agents(self) -> list[dict[str, Any]]:
        """Every registered agent."""
        result: list[dict[str, Any]] = self._transport.json(_LIST)
        return result

    def report_agent_stats(self, agent_id: str, stats: dict[str, Any]) -> None:
        """Report an agent's process counts (shown by ``GET /agents`` as ``stats``).

        Args:
            agent_id: the reporting agent.
            stats: ``{live_processes, spawned, spawned_last_minute,
                refused_load_failures, supervised, max_concurrent}``.
        """
        self._transport.json(_STATS, {"agent_id": agent_id}, json_body=stats)

    def claim_flow_runs(
        self,
        agent_id: str,
        timeout: float = 30.0,
        limit: int = 1,
        running: Iterable[str] = (),
        token: str | None = None,
    ) -> dict[str, Any]:
        """Long-poll for due flow runs; return as soon as there is work or at ``timeout``.

        Args:
            agent_id: the claiming agent.
            timeout: seconds the server may hold the request.
            limit: the most runs to claim.
            running: ids of the runs this agent is running (the server answers which of
                them should be cancelled).
            token: a random token of the calling agent process; with it, a run the
                server handed to this process but that ``running`` does not list on a
                later claim (the answer was lost) goes back to the queue at once.

        Returns:
            ``{"flow_runs": [...claimed runs...], "cancel": [flow run ids]}``.
        """
        body: dict[str, Any] = {"timeout": timeout, "limit": limit, "running": list(running)}
        if token is not None:
            body["token"] = token
        read_timeout = httpx.Timeout(self._transport.timeout, read=timeout + 30.0)
        result: dict[str, Any] = self._transport.json(
            _CLAIM, {"agent_id": agent_id}, json_body=body, timeout=read_timeout
        )
        return result
