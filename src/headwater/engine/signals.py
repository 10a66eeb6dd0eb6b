"""State signals: exceptions a task raises to put its run into a chosen state.

Contract:
    Each signal derives from :class:`HeadwaterStateSignal` (``ENGINESIGNAL``), which is a
    ``BaseException`` so that a task's ``except Exception`` cannot swallow it. A signal
    carries a ready-made state in ``.state``; the task runner makes that the run's state.
    Unless a ``result`` keyword is given, the state's result is the signal object itself.

    ``FAIL`` -> ``Failed``, ``TRIGGERFAIL`` -> ``TriggerFailed``, ``VALIDATIONFAIL`` ->
    ``ValidationFailed``, ``SUCCESS`` -> ``Success``, ``SKIP`` -> ``Skipped``, ``RETRY``
    -> ``Retrying``, ``PAUSE`` -> ``Paused``, ``LOOP`` -> ``Looped``.

    :func:`signal_from_state` finds the signal whose state class has the same *name* as a
    given state (used to mirror another run's state); there is none for ``Cancelled``,
    ``TimedOut``, ``Cached``, ``Mapped`` and the non-finished states apart from
    ``Paused``/``Retrying``, and it raises ``ValueError`` for those.
"""

from __future__ import annotations

from typing import Any, ClassVar

from headwater.engine import state as _state

__all__ = [
    "ENGINESIGNAL",
    "FAIL",
    "LOOP",
    "PAUSE",
    "RETRY",
    "SKIP",
    "SUCCESS",
    "TRIGGERFAIL",
    "VALIDATIONFAIL",
    "HeadwaterStateSignal",
    "signal_from_state",
]


class HeadwaterStateSignal(BaseException):
    """Base class of state signals.

    Args:
        message: the message of the signal and of its state.
        *args: further exception arguments.
        **kwargs: keyword arguments for the state's constructor (``result``,
            ``start_time``, ``run_count``, ``loop_count``, ``context``...).
    """

    _state_cls: ClassVar[type[_state.State]] = _state.State

    def __init__(self, message: str | None = None, *args: Any, **kwargs: Any) -> None:
        if message is None:
            super().__init__(*args)
        else:
            super().__init__(message, *args)
        kwargs.setdefault("result", self)
        self.state: _state.State = self._state_cls(message=message, **kwargs)


ENGINESIGNAL = HeadwaterStateSignal


class FAIL(HeadwaterStateSignal):
    """The task failed: the run becomes ``Failed``."""

    _state_cls = _state.Failed


class TRIGGERFAIL(FAIL):
    """The task's trigger did not pass: the run becomes ``TriggerFailed``."""

    _state_cls = _state.TriggerFailed


class VALIDATIONFAIL(FAIL):
    """The task's result is invalid: the run becomes ``ValidationFailed``."""

    _state_cls = _state.ValidationFailed


class SUCCESS(HeadwaterStateSignal):
    """The task succeeded: the run becomes ``Success``."""

    _state_cls = _state.Success


class SKIP(HeadwaterStateSignal):
    """The task is skipped: the run becomes ``Skipped``."""

    _state_cls = _state.Skipped


class RETRY(HeadwaterStateSignal):
    """The task must run again: the run becomes ``Retrying``."""

    _state_cls = _state.Retrying


class PAUSE(HeadwaterStateSignal):
    """The task waits for approval: the run becomes ``Paused``."""

    _state_cls = _state.Paused


class LOOP(HeadwaterStateSignal):
    """The task runs again with ``result`` as its loop payload: the run becomes ``Looped``."""

    _state_cls = _state.Looped


_BY_STATE_NAME: dict[str, type[HeadwaterStateSignal]] = {
    sig._state_cls.__name__: sig
    for sig in (FAIL, TRIGGERFAIL, VALIDATIONFAIL, SUCCESS, SKIP, RETRY, PAUSE, LOOP)
}


def signal_from_state(state: _state.State) -> type[HeadwaterStateSignal]:
    """Return the signal class that produces a state of the same type as ``state``.

    Matching is by class *name*, so a state read back from the server matches too.

    Args:
        state: the state to mirror.

    Returns:
        The signal class (raise it with the state's message to mirror the state).

    Raises:
        ValueError: when no signal produces that state type.
    """
    sig = _BY_STATE_NAME.get(type(state).__name__)
    if sig is None:
        raise ValueError(f"no signal matches the provided state: {state!r}")
    return sig
