"""The server's own table of state types and families.

Contract: the server never imports ``headwater.engine``. It knows states only by the
``type`` field of their JSON form (docs/internals/contracts.md section 2) and groups them
into the families below, which the orchestration rules and queries use.
"""

from __future__ import annotations

__all__ = [
    "ALL_TYPES",
    "FAILED",
    "FINISHED",
    "PENDING",
    "RUNNING",
    "SCHEDULED",
    "SUCCESSFUL",
    "is_finished",
    "is_running",
    "is_scheduled",
]

SCHEDULED: frozenset[str] = frozenset({"Scheduled", "Paused", "Resume", "Retrying", "Queued"})
PENDING: frozenset[str] = frozenset({"Pending", "Submitted", "ClientFailed"}) | SCHEDULED
RUNNING: frozenset[str] = frozenset({"Running", "Cancelling"})
SUCCESSFUL: frozenset[str] = frozenset({"Success", "Cached", "Mapped", "Skipped"})
FAILED: frozenset[str] = frozenset({"Failed", "TimedOut", "TriggerFailed", "ValidationFailed"})
FINISHED: frozenset[str] = frozenset({"Finished", "Cancelled", "Looped"}) | SUCCESSFUL | FAILED
ALL_TYPES: frozenset[str] = frozenset({"State"}) | PENDING | RUNNING | FINISHED


def is_finished(state_type: str | None) -> bool:
    """Whether ``state_type`` is in the finished family."""
    return state_type in FINISHED


def is_running(state_type: str | None) -> bool:
    """Whether ``state_type`` is Running or Cancelling."""
    return state_type in RUNNING


def is_scheduled(state_type: str | None) -> bool:
    """Whether ``state_type`` is in the scheduled family (incl. Queued)."""
    return state_type in SCHEDULED
