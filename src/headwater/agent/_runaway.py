"""Runaway protection for agents: refusing flows that keep failing to load, and counting
the flow-run processes an agent starts.

Contract:

- :class:`LoadFailures` remembers, per flow version, the times its runs ended with the
  flow-run process's "Could not load flow from storage" failure. A run whose flow failed
  to load ``limit`` times in a row within ``window`` seconds is refused:
  :meth:`LoadFailures.refusal` returns the message its Failed state carries, and the agent
  starts no process for it. A run that loads its flow (whatever its final state) resets
  the count; failures older than ``window`` seconds no longer count, so the flow gets
  another attempt once it has been quiet that long. Registering a new version (a new
  flow id) starts from zero.
- :class:`SpawnStats` counts the processes an agent started (in total and in the last
  minute) and those still alive. :meth:`SpawnStats.snapshot` is what the agent reports
  with ``PUT /agents/{id}/stats`` and what ``GET /agents`` shows.
- :class:`StatsReporter` is the agent's thread that sends the snapshot when it changed (at
  most every ``interval`` seconds, and at least every ``keepalive`` seconds), and warns
  in the agent's log, at most once a minute, when processes start faster than
  ``warn_rate`` a minute, pointing at ``--max-concurrent``.

Everything here is pure bookkeeping (no heavy imports), safe to use from many threads.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LOAD_FAILURE_PREFIX",
    "LoadFailures",
    "SpawnStats",
    "StatsReporter",
    "is_load_failure",
]

logger = logging.getLogger("headwater.agent")

#: How a flow-run process begins the message of a run whose flow it could not load
#: (see :mod:`headwater.engine.backend._main`).
LOAD_FAILURE_PREFIX = "Could not load flow from storage"

_MINUTE = 60.0


def is_load_failure(flow_run: dict[str, Any] | None) -> bool:
    """Whether a run read back from the server failed because its flow did not load."""
    if not flow_run or flow_run.get("state_type") != "Failed":
        return False
    message = flow_run.get("state_message")
    if message is None and isinstance(flow_run.get("state"), dict):
        message = flow_run["state"].get("message")
    return isinstance(message, str) and message.startswith(LOAD_FAILURE_PREFIX)


@dataclass
class _Streak:
    times: collections.deque[float] = field(default_factory=collections.deque)
    last_message: str = ""


class LoadFailures:
    """Per flow version, the recent consecutive failures to load it.

    Args:
        limit: failures in a row after which runs of the flow are refused (0: never).
        window: seconds within which those failures must fall.
        clock: the time source (``time.monotonic``).
    """

    def __init__(
        self, limit: int = 3, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 0:
            raise ValueError(f"the load failure limit must not be negative, got {limit}")
        if window <= 0:
            raise ValueError(f"the load failure window must be positive, got {window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._streaks: dict[str, _Streak] = {}
        #: runs refused since the agent started
        self.refused = 0

    def _recent(self, flow_id: str, now: float) -> _Streak | None:
        streak = self._streaks.get(flow_id)
        if streak is None:
            return None
        while streak.times and now - streak.times[0] > self.window:
            streak.times.popleft()
        if not streak.times:
            del self._streaks[flow_id]
            return None
        return streak

    def record(self, flow_id: str, flow_run: dict[str, Any] | None) -> None:
        """Note how a run of ``flow_id`` ended (as read back after its process exited)."""
        now = self._clock()
        with self._lock:
            if not is_load_failure(flow_run):
                # The flow loaded (or the run ended for another reason): the streak is over.
                self._streaks.pop(flow_id, None)
                return
            assert flow_run is not None
            streak = self._recent(flow_id, now) or self._streaks.setdefault(flow_id, _Streak())
            streak.times.append(now)
            streak.last_message = str(flow_run.get("state_message") or "")

    def refusal(self, flow_id: str, flow_name: str | None = None) -> str | None:
        """The reason not to start a run of ``flow_id``, or None to start it."""
        if not self.limit:
            return None
        now = self._clock()
        with self._lock:
            streak = self._recent(flow_id, now)
            if streak is None or len(streak.times) < self.limit:
                return None
            self.refused += 1
            retry_in = max(self.window - (now - streak.times[0]), 0.0)
            count = len(streak.times)
            last_message = streak.last_message
        label = f"{flow_name!r} " if flow_name else ""
        return (
            f"Not started: flow {label}(flow id {flow_id}) failed to load {count} times in a "
            f"row within {self.window:g} s, so the agent refuses its runs instead of "
            f"starting a process for each. Last error: {last_message or 'unknown'}. "
            f"Fix the flow and register it again (a new version starts at once), or wait "
            f"{retry_in:.0f} s for the agent to try this version again."
        )


class SpawnStats:
    """Counts of the flow-run processes an agent started and still supervises.

    Args:
        clock: the time source (``time.monotonic``).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._starts: collections.deque[float] = collections.deque()
        self.spawned = 0
        self.live = 0
        self.changes = 0

    def started(self) -> None:
        """A flow-run process was started."""
        with self._lock:
            self.spawned += 1
            self.live += 1
            self.changes += 1
            self._starts.append(self._clock())

    def ended(self) -> None:
        """A flow-run process this agent started has exited."""
        with self._lock:
            self.live = max(self.live - 1, 0)
            self.changes += 1

    def last_minute(self) -> int:
        """Processes started in the last 60 seconds."""
        now = self._clock()
        with self._lock:
            while self._starts and now - self._starts[0] > _MINUTE:
                self._starts.popleft()
            return len(self._starts)

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        """``{live_processes, spawned, spawned_last_minute, **extra}``."""
        recent = self.last_minute()
        with self._lock:
            return {
                "live_processes": self.live,
                "spawned": self.spawned,
                "spawned_last_minute": recent,
                **extra,
            }


class StatsReporter(threading.Thread):
    """Sends an agent's process counts to the server and warns about runaway spawning.

    Args:
        send: called with the snapshot (``Client.report_agent_stats`` bound to the agent).
        snapshot: returns the current snapshot.
        interval: most seconds between a change and its report.
        keepalive: report at least this often even without a change.
        warn_rate: processes a minute above which the log warns (0: never).
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None],
        snapshot: Callable[[], dict[str, Any]],
        interval: float = 1.0,
        keepalive: float = 30.0,
        warn_rate: int = 60,
    ) -> None:
        super().__init__(name="headwater-agent-stats", daemon=True)
        self._send = send
        self._snapshot = snapshot
        self.interval = interval
        self.keepalive = keepalive
        self.warn_rate = warn_rate
        self._stop_event = threading.Event()
        self._last_warning = float("-inf")

    def stop(self) -> None:
        """Stop after the current pass (one last report is sent)."""
        self._stop_event.set()

    def run(self) -> None:
        last: dict[str, Any] | None = None
        last_sent = float("-inf")
        while True:
            stopping = self._stop_event.wait(self.interval)
            current = self._snapshot()
            now = time.monotonic()
            self._maybe_warn(current, now)
            if current != last or now - last_sent >= self.keepalive or stopping:
                try:
                    self._send(current)
                    last, last_sent = current, now
                except Exception as exc:  # the server may be away; the next pass retries
                    logger.debug("Cannot report agent stats: %s", exc)
            if stopping:
                return

    def _maybe_warn(self, current: dict[str, Any], now: float) -> None:
        rate = int(current.get("spawned_last_minute") or 0)
        if not self.warn_rate or rate < self.warn_rate or now - self._last_warning < _MINUTE:
            return
        self._last_warning = now
        cap = current.get("max_concurrent")
        logger.warning(
            "The agent started %d flow-run processes in the last minute (%d alive now, "
            "max concurrent %s); if that is not intended, look for a flow that creates runs "
            "of itself and cap the agent with --max-concurrent",
            rate,
            int(current.get("live_processes") or 0),
            cap if cap is not None else "unlimited",
        )
