"""Ship a flow-run process's log records to the server in batches.

Records are queued by :class:`ServerLogHandler.emit` (cheap: no I/O on the caller's thread)
and sent by one background thread at least every ``flush_interval`` seconds, or sooner when
``max_batch`` records are waiting. ``close()`` sends everything left, so nothing logged
before the process exits is lost while the server is reachable. Records logged by the
shipping thread itself (for example by the HTTP client) are never shipped, which rules out
feedback loops.

A handler made without a ``flow_run_id`` (the one executor worker processes install) takes
the run from each record's run context and drops records logged outside a flow run, so
one worker process can serve task runs of several flow runs.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from headwater.client.retries import backoff, call_with_retries
from headwater.utilities.context import context

__all__ = ["ServerLogHandler"]

_internal = logging.getLogger("headwater.engine.backend.logs")


class ServerLogHandler(logging.Handler):
    """A logging handler that writes records to a flow run's logs on the server.

    Args:
        write_logs: Sends a batch of log dicts (``Client.write_run_logs``).
        flow_run_id: The run the records belong to; None takes it from each record's
            run context (records outside a flow run are then not shipped).
        task_run_id_getter: Returns the current task run id (from the context), if any.
        flush_interval: Most seconds a record waits before it is sent.
        max_batch: Send as soon as this many records wait.
        max_buffer: Records kept while the server is unreachable; the oldest are dropped
            beyond that, so a long outage cannot exhaust memory.
    """

    def __init__(
        self,
        write_logs: Callable[[list[dict[str, Any]]], None],
        flow_run_id: str | None,
        task_run_id_getter: Callable[[], str | None] | None = None,
        flush_interval: float = 0.5,
        max_batch: int = 500,
        max_buffer: int = 50_000,
    ) -> None:
        super().__init__()
        self._write_logs = write_logs
        self.flow_run_id = flow_run_id
        self._task_run_id_getter = task_run_id_getter
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_buffer = max_buffer
        self._buffer: list[dict[str, Any]] = []
        self._buffer_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._shut = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headwater-log-shipper", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        """Queue one record (never blocks on the network)."""
        if threading.current_thread() is self._thread or self._shut.is_set():
            return
        try:
            entry = self._to_dict(record)
        except Exception:
            self.handleError(record)
            return
        if entry["flow_run_id"] is None:
            return
        with self._buffer_lock:
            self._buffer.append(entry)
            if len(self._buffer) > self.max_buffer:
                del self._buffer[: len(self._buffer) - self.max_buffer]
            full = len(self._buffer) >= self.max_batch
        if full:
            self._wake.set()

    def is_shipping(self) -> bool:
        """Whether this handler's shipping thread runs in this process (not after a fork)."""
        return self._thread.is_alive() and not self._shut.is_set()

    def flush(self) -> None:
        """Send every queued record now (from the calling thread)."""
        self._send()

    def deliver(self, timeout: float = 30.0) -> bool:
        """Send every queued record now, trying again while the server cannot be reached.

        Records stay queued through a transient error (a server restart, say) and are
        tried again with backoff for up to ``timeout`` seconds. Returns True when nothing
        is left; otherwise logs one warning and returns False (the records stay queued).
        """

        def attempt() -> None:
            error = self._send()
            if error is not None:
                raise error

        try:
            call_with_retries(attempt, backoff(0.2, 2.0, deadline=time.monotonic() + timeout))
        except Exception as exc:
            with self._buffer_lock:
                left = len(self._buffer)
            _internal.warning("Could not ship the last %d log records: %s", left, exc)
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Stop the background thread and send what is left (see :meth:`deliver`)."""
        if not self._shut.is_set():
            self._shut.set()
            self._wake.set()
            self._thread.join(timeout=5.0)
            self.deliver(timeout)
        super().close()

    def _run(self) -> None:
        while not self._shut.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self._send()

    def _send(self) -> Exception | None:
        """Send the queued records; the error that stopped it, if any (records kept)."""
        with self._send_lock:
            while True:
                with self._buffer_lock:
                    batch = self._buffer[: self.max_batch]
                if not batch:
                    return None
                try:
                    self._write_logs(batch)
                except Exception as exc:
                    # Keep the records for the next attempt; the server may be restarting.
                    _internal.debug("Could not ship %d log records: %s", len(batch), exc)
                    return exc
                with self._buffer_lock:
                    del self._buffer[: len(batch)]

    def _to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
        task_run_id = getattr(record, "task_run_id", None)
        if task_run_id is None and self._task_run_id_getter is not None:
            task_run_id = self._task_run_id_getter()
        flow_run_id = self.flow_run_id
        if flow_run_id is None:
            flow_run_id = getattr(record, "flow_run_id", None)
            if flow_run_id is None:
                flow_run_id = context.get("flow_run_id")
        return {
            "flow_run_id": None if flow_run_id is None else str(flow_run_id),
            "task_run_id": task_run_id,
            "timestamp": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "name": record.name,
            "message": message,
            "info": {
                "filename": record.filename,
                "lineno": record.lineno,
                "funcName": record.funcName,
                "thread": record.threadName,
                "process": record.process,
            },
        }
