"""Server-sent events: a line parser and the client's reconnecting event stream.

Contract:
    :class:`SSEParser` turns ``text/event-stream`` lines into events as the WHATWG rules
    say: ``event:``, ``id:`` and ``data:`` fields (several ``data`` lines join with
    newlines), ``:`` comments ignored, a blank line dispatches. The data of each event is
    decoded as JSON when it parses, else kept as text.

    :meth:`StreamsMixin.stream_flow_run_events` yields ``{"event", "id", "data"}`` dicts
    and stops after the ``end`` event. When the connection drops or the server closes the
    stream before ``end`` (a restart), it reconnects from the last cursor it saw, so no
    event is repeated or lost. Failing to reconnect after the client's retries raises
    :class:`~headwater.exceptions.ServerUnavailable`; an unknown run raises
    :class:`~headwater.exceptions.ObjectNotFound`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from headwater.client._base import HttpTransport, error_from_response, route
from headwater.exceptions import ServerUnavailable

__all__ = ["SSEParser", "StreamsMixin", "parse_sse"]

_EVENTS = route("GET", "/flow-runs/{flow_run_id}/events")

# The server sends a ping every 15 s; silence for much longer means a dead connection.
_STREAM_READ_TIMEOUT = 60.0


class SSEParser:
    """Incremental parser of ``text/event-stream`` lines."""

    def __init__(self) -> None:
        self._event = ""
        self._id: str | None = None
        self._data: list[str] = []
        self.last_id: str | None = None

    def feed(self, line: str) -> dict[str, Any] | None:
        """Consume one line (without its newline); return an event when one completes."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored.
        return None

    def _dispatch(self) -> dict[str, Any] | None:
        if self._id is not None:
            self.last_id = self._id
        if not self._data and not self._event:
            self._id = None
            return None
        text = "\n".join(self._data)
        data: Any
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        event = {"event": self._event or "message", "id": self._id, "data": data}
        self._event, self._id, self._data = "", None, []
        return event


def parse_sse(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Parse a whole stream of lines into events (a trailing partial event is dropped)."""
    parser = SSEParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event


class StreamsMixin:
    """Streaming of a flow run's events."""

    _transport: HttpTransport

    def stream_flow_run_events(
        self,
        flow_run_id: str,
        cursor: str | None = None,
        states: bool = True,
        logs: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Yield a flow run's state and log events as they happen, ending after ``end``.

        Args:
            flow_run_id: the run to follow.
            cursor: resume after this event id (from an earlier event's ``id``).
            states: include ``state`` events.
            logs: include ``log`` events.

        Yields:
            ``{"event": "state"|"log"|"end", "id": cursor, "data": {...}}``.

        Raises:
            ObjectNotFound: the run does not exist (or was deleted).
            ServerUnavailable: the server stayed unreachable through every retry.
        """
        transport = self._transport
        timeout = httpx.Timeout(transport.timeout, read=_STREAM_READ_TIMEOUT)
        failures = 0
        while True:
            params = {"cursor": cursor, "states": states, "logs": logs}
            try:
                with transport.open_stream(
                    _EVENTS, {"flow_run_id": flow_run_id}, params=params, timeout=timeout
                ) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise error_from_response(response)
                    parser = SSEParser()
                    for line in response.iter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        failures = 0
                        if event["id"]:
                            cursor = str(event["id"])
                        if event["event"] in ("state", "log", "end"):
                            yield event
                        if event["event"] == "end":
                            return
            except httpx.TransportError as exc:
                failures += 1
                if failures > transport.retries:
                    raise ServerUnavailable(
                        f"Lost the event stream of flow run {flow_run_id} from "
                        f"{transport.api_url}: {exc}"
                    ) from exc
            else:
                # A clean close before "end": the server restarted or is shutting down.
                failures += 1
                if failures > transport.retries + 50:
                    raise ServerUnavailable(
                        f"The event stream of flow run {flow_run_id} keeps closing early"
                    )
            time.sleep(min(transport.backoff * 2 ** min(failures, 8), transport.max_backoff))
