"""Triggers at their public path (``prefect.triggers`` in Prefect 1).

The default triggers belong to the graph and live in :mod:`headwater.core._triggers`;
see its contract.
"""

from headwater.core._triggers import (
    all_failed,
    all_finished,
    all_successful,
    always_run,
    any_failed,
    any_successful,
    manual_only,
    not_all_skipped,
    some_failed,
    some_successful,
)

__all__ = [
    "all_failed",
    "all_finished",
    "all_successful",
    "always_run",
    "any_failed",
    "any_successful",
    "manual_only",
    "not_all_skipped",
    "some_failed",
    "some_successful",
]
