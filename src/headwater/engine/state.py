"""Task-run and flow-run states.

Contract:
    Every run is always in exactly one :class:`State`. States form a class hierarchy and
    every predicate (``is_finished()``, ``is_failed()``...) is a subclass check, so a
    ``TriggerFailed`` is failed and finished, a ``Retrying`` is pending and scheduled::

        State
          Pending -> Scheduled -> Paused, Resume, Retrying
                  -> MetaState -> Submitted, Queued, ClientFailed
          Running -> Cancelling
          Finished -> Success -> Cached, Mapped, Skipped
                   -> Failed -> TimedOut, TriggerFailed, ValidationFailed
                   -> Cancelled, Looped

    ``state.result`` is the value, ``state._result`` the :class:`~headwater.engine.results.Result`
    holding it (assigning a plain value wraps it in a ``Result``). States compare equal
    when type, message and result value are equal.

    ``serialize()`` gives the JSON form the server stores (see the internal contracts:
    the result travels as a reference, never as the value) and :meth:`State.deserialize`
    rebuilds the right subclass from it.

    Constructing a state is on the engine's hot path: constructors only assign
    attributes (the current time is read only for the ``Scheduled`` family).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from headwater.engine._result_base import NoResult, Result
from headwater.engine._state_base import (
    State,
    _iso,
    _json_safe,
    _now,
    _optional_int,
    _parse_time,
)

__all__ = [
    "FINISHED_STATE_TYPES",
    "Cached",
    "Cancelled",
    "Cancelling",
    "ClientFailed",
    "Failed",
    "Finished",
    "Looped",
    "Mapped",
    "MetaState",
    "Paused",
    "Pending",
    "Queued",
    "Resume",
    "Retrying",
    "Running",
    "Scheduled",
    "Skipped",
    "State",
    "Submitted",
    "Success",
    "TimedOut",
    "TriggerFailed",
    "ValidationFailed",
]


# --- Pending family -------------------------------------------------------------------


class Pending(State):
    """The run is waiting to start."""

    color = "#d3d3d3"


class Scheduled(Pending):
    """The run is waiting for a start time.

    Args:
        start_time: when the run should start; defaults to now (UTC).
    """

    color = "#ffab00"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        start_time: datetime | None = None,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
    ) -> None:
        super().__init__(message, result, context, cached_inputs)
        self.start_time: datetime | None = start_time if start_time is not None else _now()

    def _extra_fields(self) -> dict[str, Any]:
        return {"start_time": _iso(self.start_time)}

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        state = cls(**common)
        assert isinstance(state, Scheduled)
        parsed = _parse_time(data.get("start_time"), "start_time")
        # Without a start time a scheduled run may start now (the constructor's default);
        # only a Paused state keeps an explicit null, meaning "until resumed".
        if parsed is not None or (cls is Paused and "start_time" in data):
            state.start_time = parsed
        return state


class Paused(Scheduled):
    """The run waits for a manual resume (or until ``start_time``, ten years by default)."""

    color = "#cfd8dc"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        start_time: datetime | None = None,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
    ) -> None:
        if start_time is None:
            start_time = _now() + timedelta(days=3650)
        super().__init__(message, result, start_time, context, cached_inputs)


class Resume(Scheduled):
    """A paused run was resumed and may start."""

    color = "#ffab00"


class Retrying(Scheduled):
    """The run failed and will run again at ``start_time``.

    Args:
        run_count: how many times the run has run so far.
    """

    color = "#ffab00"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        start_time: datetime | None = None,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
        run_count: int | None = None,
    ) -> None:
        super().__init__(message, result, start_time, context, cached_inputs)
        self.run_count = run_count

    def _extra_fields(self) -> dict[str, Any]:
        fields = super()._extra_fields()
        fields["run_count"] = self.run_count
        return fields

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        state = super()._from_fields(data, common)
        assert isinstance(state, Retrying)
        state.run_count = _optional_int(data.get("run_count"), "run_count")
        return state


class MetaState(Pending):
    """A state about a run's handling (not its progress) that wraps the real state.

    Args:
        state: the wrapped state.
    """

    color = "#d3d3d3"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        state: State | None = None,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
    ) -> None:
        super().__init__(message, result, context, cached_inputs)
        self.state = state

    def _extra_fields(self) -> dict[str, Any]:
        return {"state": self.state.serialize() if self.state is not None else None}

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        inner = data.get("state")
        return cls(state=State.deserialize(inner) if inner is not None else None, **common)


_MetaState = MetaState  # the name Prefect 1 code imports


class Submitted(MetaState):
    """The run was handed to an agent or an executor."""

    color = "#ffeb3b"


class Queued(MetaState):
    """The run waits for a concurrency slot; it is checked again at ``start_time``.

    Args:
        start_time: when to check again; defaults to now (UTC).
    """

    color = "#ffeb3b"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        state: State | None = None,
        start_time: datetime | None = None,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
    ) -> None:
        super().__init__(message, result, state, context, cached_inputs)
        self.start_time: datetime | None = start_time if start_time is not None else _now()

    def _extra_fields(self) -> dict[str, Any]:
        fields = super()._extra_fields()
        fields["start_time"] = _iso(self.start_time)
        return fields

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        state = super()._from_fields(data, common)
        assert isinstance(state, Queued)
        parsed = _parse_time(data.get("start_time"), "start_time")
        if parsed is not None:
            state.start_time = parsed
        return state


class ClientFailed(MetaState):
    """The run could not write its state to the server; it stops without going on."""

    color = "#ff8a80"


# --- Running family -------------------------------------------------------------------


class Running(State):
    """The run is in progress."""

    color = "#00b3ff"


class Cancelling(Running):
    """Cancellation was requested while the run was in progress."""

    color = "#ba68c8"


# --- Finished family ------------------------------------------------------------------


class Finished(State):
    """The run is over."""

    color = "#ba68c8"


class Success(Finished):
    """The run succeeded."""

    color = "#28a745"


class Cached(Success):
    """The run's result came from an earlier run's cache.

    Args:
        cached_parameters: the flow parameters of the run that made the cache.
        cached_result_expiration: when the cached result stops being valid.
        hashed_inputs: hashes of the inputs, for cache validation.
    """

    color = "#b2dfdb"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        cached_inputs: dict[str, Result] | None = None,
        cached_parameters: dict[str, Any] | None = None,
        cached_result_expiration: datetime | None = None,
        context: dict[str, Any] | None = None,
        hashed_inputs: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, result, context, cached_inputs)
        self.cached_parameters = cached_parameters
        self.cached_result_expiration = cached_result_expiration
        self.hashed_inputs = hashed_inputs

    def _extra_fields(self) -> dict[str, Any]:
        return {
            "cached_parameters": _json_safe(self.cached_parameters),
            "cached_result_expiration": _iso(self.cached_result_expiration),
            "hashed_inputs": self.hashed_inputs,
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        state = cls(**common)
        assert isinstance(state, Cached)
        state.cached_result_expiration = _parse_time(
            data.get("cached_result_expiration"), "cached_result_expiration"
        )
        parameters = data.get("cached_parameters")
        state.cached_parameters = dict(parameters) if isinstance(parameters, dict) else None
        hashed = data.get("hashed_inputs")
        state.hashed_inputs = dict(hashed) if isinstance(hashed, dict) else None
        return state


class Mapped(Success):
    """A mapped task spawned one child run per element; their states are ``map_states``.

    Args:
        map_states: the children's states.
        n_map_states: the number of children, when ``map_states`` is not known (for
            example after reading the state from the server).
    """

    color = "#97FFFF"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        map_states: list[State] | None = None,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
        n_map_states: int | None = None,
    ) -> None:
        super().__init__(message, result, context, cached_inputs)
        self.map_states: list[State] = map_states if map_states is not None else []
        self._n_map_states = n_map_states

    @property
    def n_map_states(self) -> int:
        """The number of mapped children."""
        return self._n_map_states or len(self.map_states)

    @n_map_states.setter
    def n_map_states(self, value: int) -> None:
        self._n_map_states = value

    def _extra_fields(self) -> dict[str, Any]:
        return {"n_map_states": self.n_map_states}

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        n = _optional_int(data.get("n_map_states"), "n_map_states")
        return cls(n_map_states=n, **common)


class Skipped(Success):
    """The run was skipped; downstream tasks skip too unless told otherwise."""

    color = "#62757f"


class Failed(Finished):
    """The run failed."""

    color = "#eb0000"


class TimedOut(Failed):
    """The run took longer than its timeout."""

    color = "#ff6f00"


class TriggerFailed(Failed):
    """The task's trigger did not pass, so it did not run."""

    color = "#c62828"


class ValidationFailed(Failed):
    """The task's result failed validation."""

    color = "#eb0000"


class Cancelled(Finished):
    """The run was cancelled (neither successful nor failed)."""

    color = "#bdbdbd"


class Looped(Finished):
    """The task finished one iteration of a loop and will run again.

    Args:
        loop_count: how many iterations have run.
    """

    color = "#9ccc65"

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
        loop_count: int | None = None,
    ) -> None:
        super().__init__(message, result, context, cached_inputs)
        self.loop_count = loop_count

    def _extra_fields(self) -> dict[str, Any]:
        return {"loop_count": self.loop_count}

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        return cls(loop_count=_optional_int(data.get("loop_count"), "loop_count"), **common)


#: Names of every finished state class (``Finished`` and its subclasses), for code that
#: sees states only in their JSON form (``state_type`` of runs read from the server).
FINISHED_STATE_TYPES: frozenset[str] = frozenset(
    [Finished.__name__, *(cls.__name__ for cls in Finished.children())]
)
