"""watch_flow_run: follow a flow run's state changes and logs as they happen.

Contract:
    * Push first: events come from the server's event stream
      (``Client.stream_flow_run_events``), so a record is yielded milliseconds after the
      server stored it and the iterator ends as soon as the run is finished.
    * If the stream connection drops, the watcher catches up by reading the state history
      and logs, waits with the long-poll endpoint, and reconnects from its last cursor.
      States are de-duplicated by version and logs by id, so nothing is yielded twice and
      nothing is lost; records keep the server's order.
    * ``max_duration`` bounds the whole wait (wall-clock time); exceeding it raises
      ``RuntimeError`` naming the duration in hours (e.g. ``"12.0 hours"``).
    * A run that is already finished yields one INFO record saying when it finished (only
      when streaming states) and nothing else.
    * While the run has not been picked up by an agent, a WARNING is yielded after 15 s and
      then every 30 s or more, with a diagnosis of the registered agents.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from headwater.backend._common import parse_time
from headwater.backend._flow_run import FlowRunLog, FlowRunView

if TYPE_CHECKING:
    from headwater.client import Client

__all__ = ["EventPump", "watch_flow_run"]

_FINISHED = {
    "Finished", "Success", "Cached", "Mapped", "Skipped", "Failed", "TimedOut",
    "TriggerFailed", "ValidationFailed", "Cancelled", "Looped",
}  # fmt: skip
_PICKED_UP = _FINISHED | {"Submitted", "Running", "Cancelling"}
_FATAL_ERRORS = ("ObjectNotFound", "AuthorizationError")
_END = object()


def new_client_like(client: Client | None) -> Client:
    """Build a fresh client with the same address and key as ``client``.

    A watcher streams on its own connection so that closing it (to stop a blocked read)
    never disturbs the caller's client.
    """
    # deferred: the client loads httpx (~100 ms), paid only when a server is used.
    from headwater.client import Client

    if client is None:
        return Client()
    kwargs: dict[str, Any] = {}
    for attr in ("api_url", "api_key"):
        value = getattr(client, attr, None)
        if value is not None:
            kwargs[attr] = value
    return Client(**kwargs)


class EventPump:
    """Read one flow run's events on a background thread into a queue.

    Items put on the queue are the event dicts of ``Client.stream_flow_run_events``
    (``{"event": "state"|"log", "id": ..., "data": {...}}``), then a final sentinel.
    Errors that cannot be retried (unknown run, bad credentials) are put on the queue as
    exceptions.
    """

    def __init__(
        self,
        flow_run_id: str,
        *,
        logs: bool,
        client: Client | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        self.flow_run_id = flow_run_id
        self.logs = logs
        self.poll_interval = poll_interval
        self.queue: queue.Queue[Any] = queue.Queue()
        self._client = new_client_like(client)
        self._stop = threading.Event()
        self._seen_states: set[Any] = set()
        self._seen_logs: set[Any] = set()
        self._last_log_time: datetime | None = None
        self._cursor: str | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"headwater-watch-{flow_run_id}", daemon=True
        )

    def start(self) -> EventPump:
        """Start the background reader."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop reading; a blocked stream read is interrupted by closing its connection."""
        self._stop.set()
        close = getattr(self._client, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing is best effort
                pass
        self._thread.join(timeout=2.0)

    # -- background thread ---------------------------------------------------------------

    def _deliver(self, event: dict[str, Any]) -> bool:
        """Queue an event unless it was seen already; return True at the end of the run."""
        kind = event.get("event")
        data = event.get("data") or {}
        if kind == "end":
            return True
        if kind == "state":
            key = data.get("version")
            key = key if key is not None else (data.get("timestamp"), str(data.get("state")))
            if key in self._seen_states:
                return False
            self._seen_states.add(key)
        elif kind == "log":
            if not self.logs:
                return False
            key = data.get("id")
            if key is not None:
                if key in self._seen_logs:
                    return False
                self._seen_logs.add(key)
            stamp = parse_time(data.get("timestamp"))
            if stamp is not None and (self._last_log_time is None or stamp > self._last_log_time):
                self._last_log_time = stamp
        else:
            return False
        self.queue.put(event)
        return False

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                for event in self._client.stream_flow_run_events(
                    self.flow_run_id, cursor=self._cursor, states=True, logs=self.logs
                ):
                    if self._stop.is_set():
                        return
                    if event.get("id"):
                        self._cursor = str(event["id"])
                    if self._deliver(event):
                        self.queue.put(_END)
                        return
                    backoff = 0.05
            except Exception as exc:  # any stream failure falls back to polling
                if self._stop.is_set():
                    return
                if type(exc).__name__ in _FATAL_ERRORS:
                    self.queue.put(exc)
                    return
            # The stream ended early or failed: catch up by polling, then reconnect.
            try:
                if self._catch_up():
                    self.queue.put(_END)
                    return
                self._client.wait_for_flow_run(self.flow_run_id, timeout=self.poll_interval)
                if self._catch_up():
                    self.queue.put(_END)
                    return
            except Exception as exc:  # the server may be restarting
                if self._stop.is_set():
                    return
                if type(exc).__name__ in _FATAL_ERRORS:
                    self.queue.put(exc)
                    return
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.poll_interval)

    def _catch_up(self) -> bool:
        """Read history and logs by plain requests; return True if the run is finished."""
        run = self._client.get_flow_run(self.flow_run_id)
        for row in sorted(
            self._client.get_flow_run_states(self.flow_run_id), key=lambda r: r.get("version") or 0
        ):
            self._deliver({"event": "state", "data": row})
        if self.logs:
            after = self._last_log_time - timedelta(seconds=1) if self._last_log_time else None
            for row in self._client.get_logs(self.flow_run_id, after=after):
                self._deliver({"event": "log", "data": row})
        return run.get("state_type") in _FINISHED


def _state_record(data: dict[str, Any]) -> FlowRunLog:
    state = data.get("state") or {}
    stamp = parse_time(data.get("timestamp") or state.get("timestamp"))
    message = state.get("message")
    text = f"Entered state <{state.get('type')}>"
    if message:
        text += f": {message}"
    return FlowRunLog(stamp or datetime.now(UTC), logging.INFO, text)


def _humanize(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now" if seconds < 5 else f"{seconds} seconds ago"


def _agent_diagnosis(client: Client, labels: list[str]) -> str:
    """Explain which registered agents could run a run with ``labels``."""
    try:
        agents = client.get_agents()
    except Exception:  # a diagnosis must never break the watch
        return "Could not read the registered agents."
    now = datetime.now(UTC)
    wanted = set(labels)

    def matches(agent: dict[str, Any]) -> bool:
        have = set(agent.get("labels") or [])
        return (not wanted and not have) or (bool(wanted) and wanted <= have)

    healthy: list[dict[str, Any]] = []
    unhealthy: list[dict[str, Any]] = []
    for agent in agents:
        seen = parse_time(agent.get("last_seen"))
        if seen is None:
            continue
        (healthy if now - seen <= timedelta(minutes=1) else unhealthy).append(agent)
    good = [a for a in healthy if matches(a)]
    stale = [a for a in unhealthy if matches(a)]
    shown = ", ".join(repr(x) for x in sorted(wanted)) or "empty labels"
    if len(good) == 1:
        return f"Agent {good[0].get('name')!r} has matching labels and is healthy; it should run the flow run."
    if good:
        return (
            f"{len(good)} healthy agents have matching labels; one of them should run the flow run."
        )
    if not healthy and not stale:
        return f"There are no healthy agents; start an agent with labels {shown}."
    if len(stale) == 1:
        return f"Agent {stale[0].get('name')!r} has matching labels but looks unhealthy; restart it or start another agent."
    if stale:
        return f"{len(stale)} agents have matching labels but look unhealthy; restart one or start another agent."
    return f"{len(healthy)} healthy agents exist but none has the labels {shown}."


def watch_flow_run(
    flow_run_id: str,
    stream_states: bool = True,
    stream_logs: bool = True,
    max_duration: timedelta = timedelta(hours=12),
    client: Client | None = None,
) -> Iterator[FlowRunLog]:
    """Yield a flow run's state changes and logs until the run finishes.

    Args:
        flow_run_id: the run to watch.
        stream_states: yield a record per state change (``Entered state <Type>: msg``)
            and agent warnings.
        stream_logs: yield the run's log records.
        max_duration: the longest time to wait for the run to finish.
        client: the client to use (default: one built from the environment).

    Yields:
        :class:`FlowRunLog` records in the order the server stored them.

    Raises:
        RuntimeError: if the run is not finished within ``max_duration``.
        ValueError: if the run does not exist.
    """
    view = FlowRunView.from_flow_run_id(flow_run_id, client=client)
    if view.state.is_finished():
        if stream_states:
            moment = datetime.now(UTC)
            when = _humanize(moment - (view.updated_at or moment))
            yield FlowRunLog(moment, logging.INFO, f"Your flow run finished {when}.")
        return
    started = time.monotonic()
    deadline = started + max_duration.total_seconds()
    picked_up = view.state.is_submitted() or view.state.is_running()
    last_warning: float | None = None
    pump = EventPump(flow_run_id, logs=stream_logs, client=client).start()
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                hours = round(max_duration.total_seconds() / 3600, 1)
                latest = FlowRunView.from_flow_run_id(flow_run_id, client=client)
                raise RuntimeError(
                    f"Flow run {flow_run_id} timed out after {hours} hours of waiting; its "
                    f"current state is {latest.state!r}."
                )
            due = last_warning is None or now - last_warning > 30
            if stream_states and not picked_up and now - started >= 15 and due:
                last_warning = now
                diagnosis = _agent_diagnosis(pump._client, view.labels)
                yield FlowRunLog(
                    datetime.now(UTC),
                    logging.WARNING,
                    f"It has been {round(now - started)} seconds and your flow run has "
                    f"not been submitted by an agent. {diagnosis}",
                )
            try:
                item = pump.queue.get(timeout=min(1.0, max(deadline - now, 0.001)))
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                if type(item).__name__ == "ObjectNotFound":
                    raise ValueError(f"No flow runs found with id {flow_run_id!r}.") from item
                raise item
            data = item.get("data") or {}
            if item.get("event") == "state":
                state_type = (data.get("state") or {}).get("type")
                if state_type in _PICKED_UP:
                    picked_up = True
                if stream_states:
                    yield _state_record(data)
            elif item.get("event") == "log" and stream_logs:
                yield FlowRunLog.from_log_data(data)
    finally:
        pump.close()
