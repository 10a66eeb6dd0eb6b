"""The task-state writer: a flow-run process's task states go to the server in batches.

Contract:

- :meth:`TaskStateWriter.submit` queues one task-run state (and :meth:`add_result` one
  result's bytes) and returns at once; a background thread sends what is queued with one
  ``POST /task-runs/states`` at least every ``flush_interval`` seconds (default 0.2 s,
  ``HEADWATER__FLOW_RUN__STATE_FLUSH_INTERVAL``), in the order queued.
- :meth:`flush` returns once everything queued before the call is stored (or could not
  be). The flow-run process flushes before every flow-run state (so the final state is
  never ahead of its task runs), before creating a child run, before reading a result or
  the server's cache, at exit and on SIGTERM (:meth:`drain`).
- :meth:`write_now` is the synchronous path: earlier states first, then this one with its
  own request, returning the server's answer. Transitions whose outcome the engine must
  know before going on (a task waiting for a concurrency slot) use it.
- A batch is retried through a server outage like every other write (``_retry``). An
  item the server rejects or cannot apply is logged and handed to ``on_rejected``
  (the flow-run process then checks whether its run was cancelled), as a rejected
  single write was; the task's outcome in this process stands.
- Results larger than ``inline_result_bytes`` are not queued (:meth:`add_result` returns
  False) and are uploaded directly, so a batch stays far below the request size limit.
- A SIGKILL loses at most what was queued since the last send (one window); see
  docs/agent.md for why the reaper and restarts stay correct.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.engine.backend._retry import with_retries
from headwater.engine.backend._server_result import set_result_sink

if TYPE_CHECKING:
    from headwater.client import Client

__all__ = ["TaskStateWriter", "current_writer", "flush_task_states", "install_writer"]

logger = logging.getLogger("headwater.engine.backend")

_MAX_ITEMS = 2_000
_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class _Item:
    task_run_id: str
    state: dict[str, Any] | None = None
    result: bytes | None = None

    @property
    def size(self) -> int:
        # base64 grows bytes by a third; a state's JSON is small.
        return 512 + (len(self.result) * 4 // 3 if self.result is not None else 0)

    def as_request(self) -> dict[str, Any]:
        return {"task_run_id": self.task_run_id, "state": self.state, "result": self.result}


class TaskStateWriter:
    """Queues task-run states and results and sends them in batches from a thread.

    Args:
        client: The client the batches go through.
        flush_interval: Longest time a queued state waits before it is sent.
        on_rejected: Called with ``(task_run_id, outcome)`` for each item the server
            rejected or could not apply.
        inline_result_bytes: Largest result queued with the states.
    """

    def __init__(
        self,
        client: Client,
        flush_interval: float = 0.2,
        on_rejected: Callable[[str, dict[str, Any]], None] | None = None,
        inline_result_bytes: int = 256 * 1024,
    ) -> None:
        if flush_interval <= 0:
            raise ValueError(f"flush_interval must be positive, got {flush_interval!r}")
        self.client = client
        self.flush_interval = flush_interval
        self.on_rejected = on_rejected
        self.inline_result_bytes = inline_result_bytes
        # A deque, not a lock-guarded list: appends and pops are atomic, so a signal
        # handler that drains it can never wait on a lock its own thread holds.
        self._queue: collections.deque[_Item | threading.Event] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self.batches_sent = 0
        self.items_sent = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> TaskStateWriter:
        """Start the sending thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="task-states", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float | None = 30.0) -> None:
        """Send everything queued, then stop the thread."""
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------------ queueing

    def submit(self, task_run_id: str, state: dict[str, Any]) -> None:
        """Queue a task-run state (JSON form) for the next batch."""
        self._queue.append(_Item(task_run_id, state=state))

    def add_result(self, task_run_id: str, data: bytes) -> bool:
        """Queue a result's bytes; False when too large to batch (upload it directly)."""
        if len(data) > self.inline_result_bytes:
            return False
        self._queue.append(_Item(task_run_id, result=data))
        return True

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Wait until everything queued before this call was sent; False on timeout."""
        # Queue first, then busy: the thread sets busy before it pops anything.
        if not self._queue and not self._busy:
            return True
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            self._send_pending()
            return True
        marker = threading.Event()
        self._queue.append(marker)
        self._wake.set()
        return marker.wait(timeout)

    def write_now(self, task_run_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """Send one state synchronously, after everything queued before it.

        Returns:
            The server's outcome (``status``, ``state``, ``version``, ``detail``), as the
            batch route reports items.
        """
        self.flush()
        outcomes = with_retries(
            lambda: self.client.set_task_run_states([{"task_run_id": task_run_id, "state": state}]),
            "record a task state",
        )
        outcome = outcomes[0]
        if outcome.get("status") != "accepted":
            self._report(task_run_id, outcome)
        return outcome

    def drain(self, client: Client, wait: float = 5.0) -> None:
        """Send what is queued with ``client``, from a signal handler; never blocks on locks.

        A batch the thread is sending is given ``wait`` seconds to finish first, so states
        reach the server in order.
        """
        self._stopping = True
        deadline = time.monotonic() + wait
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        previous, self.client = self.client, client
        try:
            self._send_pending()
        finally:
            self.client = previous

    # ------------------------------------------------------------------ sending

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._stopping:
                break
            self._send_pending()
        self._send_pending()

    def _send_pending(self) -> None:
        self._busy = True
        try:
            batch: list[_Item] = []
            size = 0
            while True:
                try:
                    entry = self._queue.popleft()
                except IndexError:
                    break
                if isinstance(entry, threading.Event):
                    self._post(batch)
                    batch, size = [], 0
                    entry.set()
                    continue
                batch.append(entry)
                size += entry.size
                if len(batch) >= _MAX_ITEMS or size >= _MAX_BYTES:
                    self._post(batch)
                    batch, size = [], 0
            self._post(batch)
        finally:
            self._busy = False

    def _post(self, batch: list[_Item]) -> None:
        if not batch:
            return
        client = self.client
        body = [item.as_request() for item in batch]
        try:
            outcomes = with_retries(lambda: client.set_task_run_states(body), "record task states")
        except Exception as exc:
            # The tasks' outcomes stand even if the server could not record them; the
            # flow-run state written at the end reflects them.
            logger.warning("Could not record %d task state(s): %s", len(batch), exc)
            return
        self.batches_sent += 1
        self.items_sent += len(batch)
        for item, outcome in zip(batch, outcomes, strict=False):
            if outcome.get("status") != "accepted":
                self._report(item.task_run_id, outcome)

    def _report(self, task_run_id: str, outcome: dict[str, Any]) -> None:
        logger.debug(
            "Task run %s: the server %s the change: %s",
            task_run_id,
            "refused" if outcome.get("status") == "rejected" else "could not apply",
            outcome.get("detail"),
        )
        if self.on_rejected is not None:
            try:
                self.on_rejected(task_run_id, outcome)
            except Exception as exc:  # a reporting hook must not stop the writer
                logger.debug("on_rejected failed: %s", exc)


_writer: TaskStateWriter | None = None


def install_writer(writer: TaskStateWriter | None) -> None:
    """Make ``writer`` the one this process's task runners use (None: write directly)."""
    global _writer
    _writer = writer
    set_result_sink(writer)


def current_writer() -> TaskStateWriter | None:
    """The writer installed in this process, if any."""
    return _writer


def flush_task_states(timeout: float | None = 60.0) -> bool:
    """Send every queued task state of this process now (no-op without a writer).

    Call it before anything that relies on the server knowing them, such as creating a
    child flow run. Returns False when the flush timed out.
    """
    writer = _writer
    if writer is None:
        return True
    return writer.flush(timeout)
