"""The server's event bus: wake-ups for waiters, streams and agent claims.

Contract:

- ``EventBus.publish(event)`` is called by the server only *after* the transaction that
  made the change has committed. It wakes every local subscriber whose filters match, at
  once, and on PostgreSQL also sends a ``NOTIFY`` on the channel ``headwater_events`` so
  subscribers in other server processes on the same database wake too.
- Events are *hints*, not data: a subscriber that wakes re-reads the database. Payloads
  may be trimmed, and a subscriber that falls far behind loses its oldest queued events,
  so nothing may depend on an event's ``data`` being complete.
- No lost wake-ups: open the subscription first (``async with bus.subscribe(...)``), then
  read the database, then ``await sub.wait(timeout)``. An event published between the read
  and the wait is queued in the subscription and returned by the wait.
- When the LISTEN connection drops, it is re-established with backoff; events from other
  processes may have been missed meanwhile, so every subscriber then receives a
  ``bus.resync`` event (regardless of its filters) telling it to re-read the database.
  Unsent NOTIFYs wait for the connection (up to 10,000); if more pile up, the oldest are
  dropped and a ``bus.resync`` goes to the other processes instead.
- ``begin_shutdown()`` (also called by ``stop()``) sets ``closing`` and sends every
  subscriber a ``bus.closing`` event: long-polls answer with what they have, streams end.

The bus imports asyncpg lazily and only for PostgreSQL URLs; on SQLite (one server
process per database file) the in-process fan-out is all there is.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = [
    "CHANNEL",
    "CLOSING",
    "KINDS",
    "RESYNC",
    "Event",
    "EventBus",
    "Subscription",
    "postgres_dsn",
]

logger = logging.getLogger("headwater.server.events")

#: PostgreSQL channel every server process LISTENs on.
CHANNEL = "headwater_events"

#: Event kinds the server publishes.
KINDS = frozenset(
    {
        "flow_run.created",
        "flow_run.state",
        "flow_run.updated",
        "task_run.state",
        "logs",
        "agent.registered",
        "concurrency_limit.updated",
    }
)

#: Kind of the synthetic event sent to every subscriber after a LISTEN reconnect.
RESYNC = "bus.resync"
#: Kind of the synthetic event sent to every subscriber when the server shuts down.
CLOSING = "bus.closing"
_BROADCAST = frozenset({RESYNC, CLOSING})

# PostgreSQL rejects NOTIFY payloads of 8000 bytes or more; stay well below.
_MAX_PAYLOAD = 7500
# A subscriber that never drains keeps at most this many events (oldest dropped).
_MAX_QUEUED = 1000
# How often an idle LISTEN connection is probed so that a silent drop is noticed.
_PROBE_INTERVAL = 5.0
_BACKOFF_START = 0.1
_BACKOFF_MAX = 5.0


@dataclass(frozen=True)
class Event:
    """Something changed in the database.

    Attributes:
        kind: One of :data:`KINDS` (or :data:`RESYNC`).
        flow_run_id: The flow run concerned, if any.
        task_run_id: The task run concerned, if any.
        data: Small JSON-safe details, e.g. ``{"version": 3, "state_type": "Running"}``.
    """

    kind: str
    flow_run_id: str | None = None
    task_run_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """A filtered queue of events; use as an async context manager.

    Created by :meth:`EventBus.subscribe`. Events are queued from the moment the
    ``async with`` block is entered until it is left.
    """

    def __init__(
        self,
        bus: EventBus,
        *,
        flow_run_id: str | None,
        kinds: frozenset[str] | None,
    ) -> None:
        self._bus = bus
        self.flow_run_id = flow_run_id
        self.kinds = kinds
        self._queue: collections.deque[Event] = collections.deque(maxlen=_MAX_QUEUED)
        self._ready: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._active = False

    def matches(self, event: Event) -> bool:
        """Whether ``event`` passes this subscription's filters."""
        if event.kind in _BROADCAST:
            return True
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        return self.flow_run_id is None or event.flow_run_id == self.flow_run_id

    async def __aenter__(self) -> Subscription:
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._active = True
        self._bus._add(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop receiving events (idempotent)."""
        if self._active:
            self._active = False
            self._bus._remove(self)

    def _put(self, event: Event) -> None:
        # Runs on the subscriber's own loop (see EventBus._deliver).
        if not self._active or self._ready is None:
            return
        self._queue.append(event)
        self._ready.set()

    def deliver(self, event: Event) -> None:
        """Queue ``event`` from any thread or loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._put(event)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._put, event)

    def pending(self) -> int:
        """Number of queued events not yet returned by :meth:`wait`."""
        return len(self._queue)

    def drain(self) -> list[Event]:
        """Return and remove every queued event without waiting."""
        events = list(self._queue)
        self._queue.clear()
        if self._ready is not None:
            self._ready.clear()
        return events

    async def wait(self, timeout: float | None = None) -> Event | None:
        """Return the next queued event, waiting up to ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits for ever, ``0`` only looks.

        Returns:
            The oldest queued event, or ``None`` when the timeout passed first.

        Raises:
            RuntimeError: If the subscription is not open.
        """
        if not self._active or self._ready is None:
            raise RuntimeError("Subscription.wait() needs an open subscription (async with).")
        if not self._queue:
            self._ready.clear()
            if timeout is not None and timeout <= 0:
                return None
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        if not self._queue:
            return None
        event = self._queue.popleft()
        if not self._queue:
            self._ready.clear()
        return event


def postgres_dsn(database_url: str) -> str | None:
    """Return an asyncpg DSN for a PostgreSQL URL, or ``None`` for any other database.

    Accepts ``postgresql://``, ``postgres://`` and SQLAlchemy forms such as
    ``postgresql+asyncpg://`` or ``postgresql+psycopg://``.
    """
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        return None
    base = scheme.split("+", 1)[0].lower()
    if base not in ("postgresql", "postgres"):
        return None
    return f"postgresql://{rest}"


def _encode(origin: str, events: list[Event]) -> list[str]:
    """Pack events into NOTIFY payloads, each under the PostgreSQL limit."""
    payloads: list[str] = []
    batch: list[list[Any]] = []
    size = 0
    for event in events:
        item: list[Any] = [event.kind, event.flow_run_id, event.task_run_id, event.data]
        text = json.dumps(item, separators=(",", ":"), default=str)
        if len(text) > _MAX_PAYLOAD - 100:
            # Data is only a hint: send the identifiers alone.
            item = [event.kind, event.flow_run_id, event.task_run_id, {}]
            text = json.dumps(item, separators=(",", ":"))
        if batch and size + len(text) > _MAX_PAYLOAD - 100:
            payloads.append(json.dumps({"o": origin, "e": batch}, separators=(",", ":")))
            batch, size = [], 0
        batch.append(item)
        size += len(text) + 1
    if batch:
        payloads.append(json.dumps({"o": origin, "e": batch}, separators=(",", ":")))
    return payloads


def _decode(payload: str) -> tuple[str, list[Event]]:
    raw = json.loads(payload)
    events = [
        Event(kind=str(k), flow_run_id=f, task_run_id=t, data=dict(d or {}))
        for k, f, t, d in raw["e"]
    ]
    return str(raw["o"]), events


class EventBus:
    """In-process fan-out of :class:`Event`, bridged across processes on PostgreSQL.

    Args:
        database_url: The server's database URL; PostgreSQL URLs enable LISTEN/NOTIFY.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.origin = uuid.uuid4().hex
        self._dsn = postgres_dsn(database_url)
        self._by_run: dict[str | None, set[Subscription]] = {}
        self._outbox: collections.deque[Event] = collections.deque(maxlen=10_000)
        self._outbox_ready: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected: asyncio.Event | None = None
        self._stopping = False
        self.published = 0
        self.received = 0
        self.reconnects = 0
        self.closing = False
        self._overflowed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_distributed(self) -> bool:
        """Whether events travel to other processes (PostgreSQL LISTEN/NOTIFY)."""
        return self._dsn is not None

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is currently up (always False on SQLite)."""
        return self._connected is not None and self._connected.is_set()

    async def start(self) -> None:
        """Start the bus; on PostgreSQL, open the LISTEN connection.

        Waits up to 10 seconds for the first LISTEN to be in place, so that a bus that
        has started does not miss events published afterwards by other processes. If
        PostgreSQL is unreachable the bus keeps retrying in the background.
        """
        self._loop = asyncio.get_running_loop()
        if self._dsn is None or self._task is not None:
            return
        self._stopping = False
        self._outbox_ready = asyncio.Event()
        self._connected = asyncio.Event()
        self._task = asyncio.create_task(self._run_listener(), name="headwater-event-listener")
        try:
            await asyncio.wait_for(self._connected.wait(), 10.0)
        except TimeoutError:
            logger.warning("Event bus: no LISTEN connection yet; retrying in the background.")

    def begin_shutdown(self) -> None:
        """Tell every waiter the server is going away (idempotent).

        Sets :attr:`closing` and sends a ``bus.closing`` event to every subscriber, so
        long-polls answer at once and streams end instead of holding up shutdown.
        """
        if not self.closing:
            self.closing = True
            self._deliver(Event(kind=CLOSING))

    def begin_shutdown_threadsafe(self) -> None:
        """:meth:`begin_shutdown` from a signal handler or another thread.

        Does nothing before :meth:`start` (no loop is known yet).
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.begin_shutdown)

    async def stop(self) -> None:
        """Stop the bus: release waiters, flush pending NOTIFYs briefly, close the connection."""
        self.begin_shutdown()
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            if self._outbox_ready is not None:
                self._outbox_ready.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            except (TimeoutError, Exception):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def publish(self, event: Event) -> None:
        """Wake local subscribers and, on PostgreSQL, other server processes.

        Call only after the transaction that made the change has committed.
        """
        self.published += 1
        self._deliver(event)
        self._enqueue(event)

    def publish_nowait(self, event: Event) -> None:
        """Synchronous form of :meth:`publish` for code that cannot await."""
        self.published += 1
        self._deliver(event)
        self._enqueue(event)

    def subscribe(
        self, *, flow_run_id: str | None = None, kinds: frozenset[str] | None = None
    ) -> Subscription:
        """Create a subscription; events queue from ``async with`` entry on.

        Args:
            flow_run_id: Only events about this flow run (``None``: every run).
            kinds: Only these kinds (``None``: every kind).

        Returns:
            A :class:`Subscription` to use as an async context manager.
        """
        return Subscription(self, flow_run_id=flow_run_id, kinds=kinds)

    @property
    def subscriber_count(self) -> int:
        """Number of open subscriptions."""
        return sum(len(s) for s in self._by_run.values())

    # -- internals -------------------------------------------------------------------

    def _add(self, sub: Subscription) -> None:
        self._by_run.setdefault(sub.flow_run_id, set()).add(sub)

    def _remove(self, sub: Subscription) -> None:
        subs = self._by_run.get(sub.flow_run_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_run[sub.flow_run_id]

    def _deliver(self, event: Event) -> None:
        if event.kind in _BROADCAST:
            targets = [s for subs in self._by_run.values() for s in subs]
        else:
            targets = list(self._by_run.get(None, ()))
            if event.flow_run_id is not None:
                targets.extend(self._by_run.get(event.flow_run_id, ()))
        for sub in targets:
            if sub.matches(event):
                sub.deliver(event)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            origin, events = _decode(payload)
        except (ValueError, KeyError, TypeError):
            logger.warning("Event bus: ignoring a malformed notification.")
            return
        if origin == self.origin:
            return  # already delivered locally when published
        for event in events:
            self.received += 1
            self._deliver(event)

    async def _run_listener(self) -> None:
        import asyncpg  # deferred: only a PostgreSQL bus needs the driver

        assert self._dsn is not None and self._outbox_ready is not None
        assert self._connected is not None
        backoff = _BACKOFF_START
        first = True
        while not self._stopping:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
                await conn.add_listener(CHANNEL, self._on_notify)
                # Wake the send loop at once when the server drops the connection.
                conn.add_termination_listener(lambda _c: self._outbox_ready_set())
                self._connected.set()
                if not first:
                    self.reconnects += 1
                    logger.info("Event bus: LISTEN connection re-established.")
                    # Other processes' events may have been missed while disconnected.
                    self._deliver(Event(kind=RESYNC))
                first = False
                backoff = _BACKOFF_START
                await self._send_loop(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._connected.clear()
                if self._stopping:
                    break
                logger.warning("Event bus: LISTEN connection lost (%s); retrying.", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                self._connected.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2.0)

    def _enqueue(self, event: Event) -> None:
        if self._task is None or self._outbox_ready is None:
            return
        if len(self._outbox) == self._outbox.maxlen:
            # The oldest unsent event is about to be dropped: other processes must re-read.
            self._overflowed = True
        self._outbox.append(event)
        self._outbox_ready.set()

    def _outbox_ready_set(self) -> None:
        if self._outbox_ready is not None:
            self._outbox_ready.set()

    async def _send_loop(self, conn: Any) -> None:
        assert self._outbox_ready is not None
        while True:
            if conn.is_closed():
                raise ConnectionError("connection closed")
            if not self._outbox:
                if self._stopping:
                    return
                self._outbox_ready.clear()
                try:
                    await asyncio.wait_for(self._outbox_ready.wait(), _PROBE_INTERVAL)
                except TimeoutError:
                    if conn.is_closed():
                        raise ConnectionError("connection closed") from None
                    await conn.execute("SELECT 1")
                    continue
            batch = list(self._outbox)
            sending = batch
            if self._overflowed:
                self._overflowed = False
                sending = [Event(kind=RESYNC), *batch]
            for payload in _encode(self.origin, sending):
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            # Only forget what was sent; events queued meanwhile stay for the next round.
            for _ in batch:
                if self._outbox:
                    self._outbox.popleft()
