"""A daemon thread that tells the server, at a fixed interval, that a flow run is alive.

The server's reaper fails or reschedules runs whose heartbeat goes stale, so the thread
keeps going through transient errors (a restarting server) and only stops when asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["HeartbeatThread"]

logger = logging.getLogger("headwater.engine.backend.heartbeat")


class HeartbeatThread(threading.Thread):
    """Calls ``beat()`` every ``interval`` seconds until :meth:`stop`.

    Args:
        beat: Sends one heartbeat (``lambda: client.update_flow_run_heartbeat(id)``).
        interval: Seconds between heartbeats.
    """

    def __init__(self, beat: Callable[[], None], interval: float) -> None:
        super().__init__(name="headwater-heartbeat", daemon=True)
        if interval <= 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval}")
        self._beat = beat
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Beat until stopped; errors are logged at debug level and retried next tick."""
        while not self._stop_event.wait(self.interval):
            try:
                self._beat()
            except Exception as exc:
                logger.debug("Heartbeat failed: %s", exc)

    def stop(self) -> None:
        """Stop beating (returns at once)."""
        self._stop_event.set()
