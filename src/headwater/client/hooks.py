"""Client methods for state-change hooks (``/hooks``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headwater.client._base import route
from headwater.client._resource import Resource
from headwater.exceptions import ObjectNotFound

__all__ = ["HooksMixin"]

_CREATE = route("POST", "/hooks")
_LIST = route("GET", "/hooks")
_READ = route("GET", "/hooks/{hook_id}")
_ACTIVE = route("POST", "/hooks/{hook_id}/active", idempotent=True)
_DELETE = route("DELETE", "/hooks/{hook_id}")
_DELIVERIES = route("GET", "/hooks/{hook_id}/deliveries")


class HooksMixin(Resource):
    """Create, list, switch and delete webhook and Slack hooks on flow-run state changes."""

    def create_hook(
        self,
        name: str,
        kind: str,
        url_env: str,
        token_env: str | None = None,
        flow_name: str | None = None,
        project_name: str | None = None,
        states: Iterable[str] | None = None,
        active: bool = True,
    ) -> dict[str, Any]:
        """Create a hook called on matching flow-run state changes.

        Args:
            name: a unique name.
            kind: ``"webhook"`` (JSON POST) or ``"slack"`` (Slack incoming webhook).
            url_env: the server's environment variable holding the URL (its name must
                start with ``HEADWATER_HOOK_``; the URL itself never leaves the server).
            token_env: the server's environment variable holding a bearer token, if any.
            flow_name: only runs of this flow (default: every flow).
            project_name: only runs of flows in this project.
            states: only these state types, e.g. ``["Failed"]`` (default: every state).
            active: whether the hook fires.

        Returns:
            The hook record.
        """
        body = {
            "name": name,
            "kind": kind,
            "url_env": url_env,
            "token_env": token_env,
            "flow_name": flow_name,
            "project_name": project_name,
            "states": list(states or []),
            "active": active,
        }
        result: dict[str, Any] = self._transport.json(_CREATE, json_body=body)
        return result

    def get_hooks(self) -> list[dict[str, Any]]:
        """Every hook, by name."""
        result: list[dict[str, Any]] = self._transport.json(_LIST)
        return result

    def get_hook(self, hook_id: str) -> dict[str, Any]:
        """One hook, by id or name."""
        result: dict[str, Any] = self._transport.json(_READ, {"hook_id": hook_id})
        return result

    def set_hook_active(self, hook_id: str, active: bool) -> dict[str, Any]:
        """Switch a hook (by id or name) on or off."""
        result: dict[str, Any] = self._transport.json(
            _ACTIVE, {"hook_id": hook_id}, json_body={"active": active}
        )
        return result

    def delete_hook(self, hook_id: str) -> bool:
        """Delete a hook (by id or name); False when it did not exist."""
        try:
            self._transport.call(_DELETE, {"hook_id": hook_id})
        except ObjectNotFound:
            return False
        return True

    def get_hook_deliveries(
        self, hook_id: str, flow_run_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """A hook's deliveries, newest first."""
        params = {"flow_run_id": flow_run_id, "limit": limit}
        result: list[dict[str, Any]] = self._transport.json(
            _DELIVERIES, {"hook_id": hook_id}, params=params
        )
        return result
