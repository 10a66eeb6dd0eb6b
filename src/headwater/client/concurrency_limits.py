"""Client methods for concurrency limits: flow runs by label, task runs by tag.

Prefect 1's names: ``update_task_tag_limit(tag, limit)``, ``get_task_tag_limit(tag)``
and ``delete_task_tag_limit(limit_id)`` (Prefect Cloud's task tag limits), and for flow
runs Prefect Cloud's ``update_flow_concurrency_limit`` / ``flow_concurrency_limit`` /
``delete_flow_concurrency_limit``. The update methods return the limit's id (Prefect 1
returned nothing), which the delete methods take.
"""

from __future__ import annotations

from typing import Any

import httpx

from headwater.client._base import route
from headwater.client._resource import Resource, state_to_json
from headwater.client.task_runs import _SET_STATE
from headwater.exceptions import ObjectNotFound

__all__ = ["ConcurrencyLimitsMixin"]

# Setting a limit to a value is repeatable: the same request gives the same outcome.
_FLOW_SET = route("POST", "/flow-concurrency-limits", idempotent=True)
_FLOW_LIST = route("GET", "/flow-concurrency-limits")
_FLOW_DELETE = route("DELETE", "/flow-concurrency-limits/{limit_id}")
_TASK_SET = route("POST", "/task-tag-limits", idempotent=True)
_TASK_LIST = route("GET", "/task-tag-limits")
_TASK_DELETE = route("DELETE", "/task-tag-limits/{limit_id}")
_SLOT_WAIT = route("GET", "/task-runs/{task_run_id}/wait-for-slot")


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"A concurrency limit must be an int, got {type(limit).__name__}.")
    if limit < 0:
        raise ValueError("Concurrency limits must be >= 0")
    return limit


def _check_name(what: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"The {what} of a concurrency limit must be a non-empty string.")
    return name


class ConcurrencyLimitsMixin(Resource):
    """Read and change concurrency limits; wait for a task-run slot."""

    # -- task runs by tag (Prefect 1) -----------------------------------------------

    def update_task_tag_limit(self, tag: str, limit: int) -> str:
        """Limit how many task runs whose task carries ``tag`` run at once.

        Task runs over the limit wait in a ``Queued`` state and start when a slot frees.
        A task with several limited tags runs only when each has room.

        Args:
            tag: the task tag.
            limit: the most task runs with this tag running at once; 0 stops them all.

        Returns:
            The limit's id (for :meth:`delete_task_tag_limit`).

        Raises:
            ValueError: ``limit`` is negative or ``tag`` empty.
        """
        body = {"tag": _check_name("tag", tag), "limit": _check_limit(limit)}
        answer: dict[str, Any] = self._transport.json(_TASK_SET, json_body=body)
        return str(answer["id"])

    def get_task_tag_limit(self, tag: str) -> int | None:
        """The concurrency limit of ``tag``, or ``None`` when it has none (unlimited)."""
        found = self.get_task_tag_limits(tag)
        return int(found[0]["limit"]) if found else None

    def get_task_tag_limits(self, tag: str | None = None) -> list[dict[str, Any]]:
        """Every task tag limit (or the one of ``tag``): ``[{id, tag, limit, running, ...}]``.

        ``running`` is how many task runs with the tag are running now.
        """
        result: list[dict[str, Any]] = self._transport.json(_TASK_LIST, params={"tag": tag})
        return result

    def delete_task_tag_limit(self, limit_id: str) -> None:
        """Remove a task tag limit by its id; the tag becomes unlimited.

        Raises:
            ValueError: there is no limit with this id.
        """
        if not limit_id:
            raise ValueError("delete_task_tag_limit needs the id of a task tag limit.")
        try:
            self._transport.call(_TASK_DELETE, {"limit_id": limit_id})
        except ObjectNotFound as exc:
            raise ValueError(f"Deleting the task tag concurrency limit failed: {exc}") from None

    # -- flow runs by label (Prefect Cloud) -----------------------------------------

    def update_flow_concurrency_limit(self, label: str, limit: int) -> str:
        """Limit how many flow runs carrying ``label`` run at once.

        A run holds a slot of each of its labels from the moment an agent claims it until
        it finishes; runs over the limit stay Scheduled until a slot frees.

        Returns:
            The limit's id (for :meth:`delete_flow_concurrency_limit`).

        Raises:
            ValueError: ``limit`` is negative or ``label`` empty.
        """
        body = {"label": _check_name("label", label), "limit": _check_limit(limit)}
        answer: dict[str, Any] = self._transport.json(_FLOW_SET, json_body=body)
        return str(answer["id"])

    def get_flow_concurrency_limit(self, label: str) -> int | None:
        """The flow-run concurrency limit of ``label``, or ``None`` when it has none."""
        found = self.get_flow_concurrency_limits(label)
        return int(found[0]["limit"]) if found else None

    def get_flow_concurrency_limits(self, label: str | None = None) -> list[dict[str, Any]]:
        """Every flow concurrency limit (or the one of ``label``).

        Returns ``[{id, label, limit, running, created, updated}]``; ``running`` counts the
        flow runs with the label that are submitted, running or cancelling now.
        """
        result: list[dict[str, Any]] = self._transport.json(_FLOW_LIST, params={"label": label})
        return result

    def delete_flow_concurrency_limit(self, limit_id: str) -> None:
        """Remove a flow concurrency limit by its id; the label becomes unlimited.

        Raises:
            ValueError: there is no limit with this id.
        """
        if not limit_id:
            raise ValueError("delete_flow_concurrency_limit needs the id of a limit.")
        try:
            self._transport.call(_FLOW_DELETE, {"limit_id": limit_id})
        except ObjectNotFound as exc:
            raise ValueError(f"Deleting the flow concurrency limit failed: {exc}") from None

    # -- used by the backend task runner --------------------------------------------

    def propose_task_run_state(
        self, task_run_id: str, state: Any, version: int | None = None
    ) -> dict[str, Any]:
        """Propose a task-run state and return the server's whole answer.

        Returns:
            ``{status: "accepted"|"rejected"|"queued", state, version, detail}``;
            ``"queued"`` means a concurrency limit turned a Running state into Queued.
        """
        body = {"state": state_to_json(state), "expected_version": version}
        answer: dict[str, Any] = self._transport.json(
            _SET_STATE, {"task_run_id": task_run_id}, json_body=body
        )
        return answer

    def wait_for_task_run_slot(self, task_run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """One long-poll: returns when a Queued task run may start, or after ``timeout``.

        Returns:
            ``{available, state_type, full_tags}``; ``available`` is a hint, proposing
            Running decides.
        """
        read = httpx.Timeout(self._transport.timeout, read=float(timeout) + 30.0)
        result: dict[str, Any] = self._transport.json(
            _SLOT_WAIT, {"task_run_id": task_run_id}, params={"timeout": timeout}, timeout=read
        )
        return result
