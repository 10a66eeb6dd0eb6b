"""Cache validators: decide whether a task's cached state may stand in for a new run.

Contract:
    A validator is ``fn(state: Cached, inputs: dict, parameters: dict) -> bool``. A task
    with ``cache_for`` keeps each successful run as a ``Cached`` state (expiring
    ``cache_for`` after the run) in a cache shared by the process, under the task's
    ``cache_key`` (default: its name). A later run of such a task first asks its
    ``cache_validator`` (default :func:`duration_only`) about each kept state and, on the
    first ``True``, ends ``Cached`` with that result instead of running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from headwater.engine.state import Cached

__all__ = [
    "all_inputs",
    "all_parameters",
    "clear_caches",
    "duration_only",
    "never_use",
    "partial_inputs_only",
    "partial_parameters_only",
]

_LOCK = threading.Lock()
_CACHES: dict[str, list[Cached]] = {}


def cached_states(key: str) -> list[Cached]:
    """The states kept under ``key`` (newest first)."""
    with _LOCK:
        return list(reversed(_CACHES.get(key, [])))


def add_cached_state(key: str, state: Cached) -> None:
    """Keep ``state`` under ``key``, dropping expired states."""
    now = datetime.now(UTC)
    with _LOCK:
        kept = [
            s
            for s in _CACHES.get(key, [])
            if s.cached_result_expiration is None or s.cached_result_expiration > now
        ]
        kept.append(state)
        _CACHES[key] = kept


def clear_caches() -> None:
    """Forget every cached state of this process."""
    with _LOCK:
        _CACHES.clear()


def _cached_input_values(state: Cached) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in (state.cached_inputs or {}).items()}


def never_use(state: Cached, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """Never use a cache."""
    return False


def duration_only(state: Cached, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """Use the cache until it expires."""
    expiration = state.cached_result_expiration
    return expiration is None or expiration > datetime.now(UTC)


def all_inputs(state: Cached, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """Use the cache until it expires, when the task's inputs are the same."""
    return duration_only(state, inputs, parameters) and _cached_input_values(state) == dict(inputs)


def all_parameters(state: Cached, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """Use the cache until it expires, when the flow's parameters are the same."""
    return duration_only(state, inputs, parameters) and (state.cached_parameters or {}) == dict(
        parameters
    )


Validator = Callable[[Cached, dict[str, Any], dict[str, Any]], bool]


def partial_inputs_only(validate_on: Iterable[str] | None = None) -> Validator:
    """A validator comparing only the named inputs.

    Args:
        validate_on: the input names that must be equal.
    """
    names = list(validate_on or [])

    def validator(state: Cached, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
        cached = _cached_input_values(state)
        return duration_only(state, inputs, parameters) and all(
            cached.get(n) == inputs.get(n) for n in names
        )

    return validator


def partial_parameters_only(validate_on: Iterable[str] | None = None) -> Validator:
    """A validator comparing only the named flow parameters.

    Args:
        validate_on: the parameter names that must be equal.
    """
    names = list(validate_on or [])

    def validator(state: Cached, inputs: dict[str, Any], parameters: dict[str, Any]) -> bool:
        cached = state.cached_parameters or {}
        return duration_only(state, inputs, parameters) and all(
            cached.get(n) == parameters.get(n) for n in names
        )

    return validator
