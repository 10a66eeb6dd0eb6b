"""ChildRun: one small handle for a flow run started by another flow's task.

The six flow-of-flows tasks are thin layers over this handle: it creates a child run
(idempotently, with lineage), waits for it by push, cancels, renames, and reads its task
results through the server.

Contract:
    * ``ChildRun.create(...)`` always sends an idempotency key and the parent flow run /
      task run ids it is given; the same key for the same flow group returns the same run.
    * ``wait()`` blocks on the server's long-poll endpoint, so it returns milliseconds after
      the child reaches a finished state. Failures other than a missing run or a refused
      key are retried with a short backoff (0.05 s doubling to ``poll_interval``, from
      :mod:`headwater.client.retries`) until the optional ``timeout``, which raises
      :class:`ChildRunTimeout`.
    * ``result(task_slug, map_index)`` waits for the run, then reads the task run's result
      (a mapped parent at ``map_index=-1`` gives the list of its children's results).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.backend import FlowRunView, TaskRunView
from headwater.backend._common import default_client, state_repr
from headwater.client.retries import backoff
from headwater.engine.backend._states import flush_task_states
from headwater.engine.state import FINISHED_STATE_TYPES
from headwater.exceptions import ObjectNotFound

if TYPE_CHECKING:
    from headwater.client import Client

__all__ = ["ChildRun", "ChildRunTimeout"]

_FATAL_ERRORS = ("ObjectNotFound", "AuthorizationError")
# One long-poll request never waits longer than this; the server answers at once when the
# run finishes, so this only bounds how long a dead connection can go unnoticed.
_LONG_POLL_SECONDS = 30.0
# The first pause after a failed long-poll; it doubles up to the caller's poll_interval.
_FIRST_PAUSE = 0.05


class ChildRunTimeout(TimeoutError):
    """A child flow run did not finish within the time the caller allowed."""


class ChildRun:
    """A handle on one flow run, usually a child of the current run.

    Args:
        flow_run_id: the run's id.
        client: the client to use (default: one built from the environment).
    """

    def __init__(self, flow_run_id: str, client: Client | None = None) -> None:
        self.flow_run_id = flow_run_id
        self._client = client

    @property
    def client(self) -> Client:
        """The client this handle talks through."""
        return default_client(self._client)

    @classmethod
    def create(
        cls,
        flow_id: str,
        *,
        parameters: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        labels: list[str] | None = None,
        run_name: str | None = None,
        run_config: Any = None,
        scheduled_start_time: datetime | None = None,
        idempotency_key: str | None = None,
        parent_flow_run_id: str | None = None,
        parent_task_run_id: str | None = None,
        client: Client | None = None,
    ) -> ChildRun:
        """Create (or, for a repeated key, find) a flow run of ``flow_id``.

        Returns:
            A handle on the run.
        """
        client = default_client(client)
        # The parent's task states reach the server before its child exists.
        flush_task_states()
        flow_run_id = client.create_flow_run(
            flow_id=flow_id,
            parameters=parameters,
            context=context,
            labels=labels,
            run_name=run_name or None,
            run_config=run_config,
            scheduled_start_time=scheduled_start_time,
            idempotency_key=idempotency_key or None,
            parent_flow_run_id=parent_flow_run_id,
            parent_task_run_id=parent_task_run_id,
        )
        return cls(str(flow_run_id), client=client)

    def view(self) -> FlowRunView:
        """Return a fresh view of the run."""
        return FlowRunView.from_flow_run_id(self.flow_run_id, client=self._client)

    def wait(self, timeout: float | None = None, poll_interval: float = 10.0) -> FlowRunView:
        """Block until the run is finished and return its latest view.

        Args:
            timeout: the longest time to wait in seconds (``None``: no limit).
            poll_interval: the longest pause between attempts while the server cannot be
                reached.

        Raises:
            ChildRunTimeout: if the run is not finished within ``timeout``.
            ValueError: if the run does not exist.
        """
        client = self.client
        deadline = None if timeout is None else time.monotonic() + timeout
        cap = max(poll_interval, _FIRST_PAUSE)
        pauses = backoff(_FIRST_PAUSE, cap)
        while True:
            remaining = _LONG_POLL_SECONDS if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                self._raise_timeout(timeout)
            try:
                answer = client.wait_for_flow_run(
                    self.flow_run_id, timeout=min(_LONG_POLL_SECONDS, max(remaining, 0.0))
                )
                run = answer.get("flow_run") or {}
                if answer.get("finished") or run.get("state_type") in FINISHED_STATE_TYPES:
                    return FlowRunView(run, client=client) if run else self.view()
                pauses = backoff(_FIRST_PAUSE, cap)
            except Exception as exc:  # everything but a missing run or a refused key is retried
                if type(exc).__name__ == "ObjectNotFound":
                    raise ValueError(f"No flow runs found with id {self.flow_run_id!r}.") from exc
                if type(exc).__name__ in _FATAL_ERRORS:
                    raise
                pause = next(pauses)
                if deadline is not None:
                    pause = min(pause, max(deadline - time.monotonic(), 0))
                time.sleep(pause)

    def _raise_timeout(self, timeout: float | None) -> None:
        try:
            latest = self.view()
            where = (
                f"flow run {latest.name!r} ({self.flow_run_id}) is still {state_repr(latest.state)}"
            )
        except Exception:  # the message must not depend on the server
            where = f"flow run {self.flow_run_id} is still not finished"
        raise ChildRunTimeout(f"Gave up waiting after {timeout:g} s: {where}.")

    def cancel(self, cascade: bool = True) -> bool:
        """Cancel the run (and, with ``cascade``, its unfinished children).

        Returns:
            True if the run is now Cancelling or Cancelled, False if it had already
            finished.

        Raises:
            ValueError: if the run does not exist.
        """
        try:
            answer = self.client.cancel_flow_run(self.flow_run_id, cascade=cascade)
        except ObjectNotFound:
            raise ValueError(f"Flow run {self.flow_run_id} not found; nothing to cancel.") from None
        return answer.get("state") in ("Cancelling", "Cancelled")

    def rename(self, name: str) -> bool:
        """Rename the run; False if the server has no such run."""
        return bool(self.client.set_flow_run_name(self.flow_run_id, name))

    def result(
        self,
        task_slug: str,
        map_index: int = -1,
        timeout: float | None = None,
        poll_interval: float = 5.0,
    ) -> Any:
        """Wait for the run to finish, then return one task run's result.

        Raises:
            ChildRunTimeout: the run did not finish within ``timeout``.
            ValueError: no such task run, or it has no readable result.
        """
        self.wait(timeout=timeout, poll_interval=poll_interval)
        task_run = TaskRunView.from_task_slug(
            task_slug, self.flow_run_id, map_index=map_index, client=self._client
        )
        return task_run.get_result()

    def __repr__(self) -> str:
        return f"ChildRun({self.flow_run_id!r})"
