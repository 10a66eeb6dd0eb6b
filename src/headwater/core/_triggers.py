"""Triggers: when may a task run, given the final states of its upstream tasks?

Contract:
    A trigger is a callable taking ``upstream_states: dict[Edge, State]`` and returning
    ``True`` when the task may run; otherwise it raises
    :class:`~headwater.engine.signals.TRIGGERFAIL` (the task becomes ``TriggerFailed``),
    or :class:`~headwater.engine.signals.PAUSE` for :func:`manual_only`. Upstream states
    are finished (the runner checks that first). Skipped counts as successful.
    With no upstream tasks every trigger passes. ``all_successful`` is the default.

    Trigger checks run once per task run, so they avoid building lists they do not need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from headwater.core._naming import publish
from headwater.engine import signals
from headwater.engine.state import Failed, Success
from headwater.utilities.context import context

if TYPE_CHECKING:
    from headwater.engine.state import State

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

Trigger = Callable[[Mapping[Any, "State"]], bool]

_PUBLIC = "headwater.triggers"


def all_successful(upstream_states: Mapping[Any, State]) -> bool:
    """Run when every upstream task succeeded (the default trigger).

    Raises:
        TRIGGERFAIL: when any upstream task did not succeed.
    """
    for state in upstream_states.values():
        if not isinstance(state, Success):
            raise signals.TRIGGERFAIL(
                'Trigger was "all_successful" but some of the upstream tasks failed.'
            )
    return True


def all_finished(upstream_states: Mapping[Any, State]) -> bool:
    """Run when every upstream task finished, whatever its outcome.

    Raises:
        TRIGGERFAIL: when any upstream task is not finished.
    """
    for state in upstream_states.values():
        if not state.is_finished():
            raise signals.TRIGGERFAIL(
                'Trigger was "all_finished" but some of the upstream tasks were not finished.'
            )
    return True


always_run = all_finished


def manual_only(upstream_states: Mapping[Any, State]) -> bool:
    """Never run on its own: pause for a manual resume (unless there are no upstreams).

    Raises:
        PAUSE: whenever there is at least one upstream task.
    """
    if not upstream_states:
        return True
    if context.get("resume"):  # the run was resumed (a Resume state): go ahead
        return True
    raise signals.PAUSE('Trigger function is "manual_only"')


def all_failed(upstream_states: Mapping[Any, State]) -> bool:
    """Run when every upstream task failed.

    Raises:
        TRIGGERFAIL: when any upstream task did not fail.
    """
    for state in upstream_states.values():
        if not isinstance(state, Failed):
            raise signals.TRIGGERFAIL(
                'Trigger was "all_failed" but some of the upstream tasks succeeded.'
            )
    return True


def any_successful(upstream_states: Mapping[Any, State]) -> bool:
    """Run when at least one upstream task succeeded.

    Raises:
        TRIGGERFAIL: when none succeeded.
    """
    if not upstream_states:
        return True
    for state in upstream_states.values():
        if isinstance(state, Success):
            return True
    raise signals.TRIGGERFAIL(
        'Trigger was "any_successful" but none of the upstream tasks succeeded.'
    )


def any_failed(upstream_states: Mapping[Any, State]) -> bool:
    """Run when at least one upstream task failed.

    Raises:
        TRIGGERFAIL: when none failed.
    """
    if not upstream_states:
        return True
    for state in upstream_states.values():
        if isinstance(state, Failed):
            return True
    raise signals.TRIGGERFAIL('Trigger was "any_failed" but none of the upstream tasks failed.')


def not_all_skipped(upstream_states: Mapping[Any, State]) -> bool:
    """Run when every upstream task succeeded and at least one was not skipped.

    Raises:
        SKIP: when every upstream task was skipped (so the skip propagates).
        TRIGGERFAIL: when some upstream task did not succeed.
    """
    if not upstream_states:
        return True
    all_successful(upstream_states)
    if all(state.is_skipped() for state in upstream_states.values()):
        raise signals.SKIP("All upstream tasks were skipped.")
    return True


def _count_check(
    name: str,
    upstream_states: Mapping[Any, State],
    matches: int,
    at_least: int | float | None,
    at_most: int | float | None,
    what: str,
) -> bool:
    total = len(upstream_states)
    if total == 0:
        return True
    if isinstance(at_least, float) and at_least < 1:
        at_least = at_least * total
    if isinstance(at_most, float) and at_most < 1:
        at_most = at_most * total
    low = at_least if at_least is not None else 0
    high = at_most if at_most is not None else total
    if not low <= matches <= high:
        raise signals.TRIGGERFAIL(
            f'Trigger was "{name}" with at_least={at_least!r}, at_most={at_most!r}; '
            f"{matches} of {total} upstream tasks {what}."
        )
    return True


def _check_bounds(name: str, at_least: Any, at_most: Any) -> None:
    for label, bound in (("at_least", at_least), ("at_most", at_most)):
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or bound < 0:
            raise ValueError(f"{name}: {label} must be a non-negative number, not {bound!r}")


def some_successful(
    at_least: int | float | None = None, at_most: int | float | None = None
) -> Trigger:
    """Build a trigger: run when the number of successful upstream tasks is in range.

    Args:
        at_least: the minimum count, or a fraction of the upstream tasks when a float
            below 1 (for example ``0.5``).
        at_most: the maximum count (or fraction, likewise).

    Returns:
        The trigger; it raises ``TRIGGERFAIL`` when the count is out of range.

    Raises:
        ValueError: when a bound is negative or not a number.
    """
    _check_bounds("some_successful", at_least, at_most)

    def _trigger(upstream_states: Mapping[Any, State]) -> bool:
        matches = sum(1 for s in upstream_states.values() if isinstance(s, Success))
        return _count_check(
            "some_successful", upstream_states, matches, at_least, at_most, "succeeded"
        )

    _trigger.__name__ = "some_successful"
    _trigger.__module__ = _PUBLIC
    return _trigger


def some_failed(at_least: int | float | None = None, at_most: int | float | None = None) -> Trigger:
    """Build a trigger: run when the number of failed upstream tasks is in range.

    Args:
        at_least: the minimum count, or a fraction of the upstream tasks when a float
            below 1.
        at_most: the maximum count (or fraction, likewise).

    Returns:
        The trigger; it raises ``TRIGGERFAIL`` when the count is out of range.

    Raises:
        ValueError: when a bound is negative or not a number.
    """
    _check_bounds("some_failed", at_least, at_most)

    def _trigger(upstream_states: Mapping[Any, State]) -> bool:
        matches = sum(1 for s in upstream_states.values() if isinstance(s, Failed))
        return _count_check("some_failed", upstream_states, matches, at_least, at_most, "failed")

    _trigger.__name__ = "some_failed"
    _trigger.__module__ = _PUBLIC
    return _trigger


publish(_PUBLIC, globals(), __all__)
