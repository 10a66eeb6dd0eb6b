"""Small pure helpers for supervising flow-run processes (no I/O, no heavy imports)."""

from __future__ import annotations

import datetime
import signal
from collections.abc import Sequence

from headwater.engine.state import FINISHED_STATE_TYPES

__all__ = [
    "FINISHED_STATE_TYPES",
    "describe_exit",
    "parse_time",
    "utc_now_iso",
]


# How many stderr lines go into a failure message (the log gets the same lines).
STDERR_TAIL_LINES = 20


def utc_now_iso() -> str:
    """The current time as an ISO-8601 string with a UTC offset."""
    return datetime.datetime.now(datetime.UTC).isoformat()


def parse_time(value: object) -> datetime.datetime | None:
    """Parse an ISO-8601 timestamp from the API; None for anything else.

    Naive timestamps are taken as UTC, which is what the server sends.
    """
    if isinstance(value, datetime.datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def describe_exit(code: int, stderr_tail: Sequence[str], shutdown: bool = False) -> str:
    """Explain why a flow-run process ended without reporting a final state.

    Args:
        code: The process exit code (negative: killed by that signal number).
        stderr_tail: The last lines the process wrote to stderr.
        shutdown: True when the agent terminated the process because it shut down.

    Returns:
        A message for the run's Failed state and its logs.
    """
    if code < 0:
        try:
            how = f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    message = f"Flow run process {how} without reporting a final state"
    if shutdown:
        message += " (the agent shut down and terminated it)"
    lines = [line.rstrip() for line in stderr_tail if line.strip()][-STDERR_TAIL_LINES:]
    if lines:
        message += ". Last lines of stderr:\n" + "\n".join(lines)
    else:
        message += "; it wrote nothing to stderr."
    return message
