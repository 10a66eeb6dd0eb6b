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

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from headwater.engine.results._base import NoResult, Result, result_from_ref

__all__ = [
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

_STATE_TYPES: dict[str, type[State]] = {}
_UTC = UTC


def _now() -> datetime:
    return datetime.now(_UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    # the JSON form always carries an offset; naive times are taken to be UTC
    return (value if value.tzinfo is not None else value.replace(tzinfo=_UTC)).isoformat()


_JSON_SCALARS = (str, int, float, bool, type(None))


def _json_safe(value: Any) -> Any:
    """Return ``value`` with containers made JSON-friendly and other objects as text."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_json_safe(v) for v in items]
    if isinstance(value, datetime):
        return _iso(value)
    return str(value)


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"state field {field!r} must be an ISO-8601 string, not {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"state field {field!r} is not an ISO-8601 timestamp: {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


class State:
    """Base class of every state.

    Args:
        message: a human-readable description of the state.
        result: the run's result: a value, or a :class:`Result` (default: no result).
        context: extra data kept with the state (tags etc.); JSON-safe for the server.
        cached_inputs: the task's inputs as Results, kept so a retry can reuse them.
    """

    color: ClassVar[str] = "#000000"

    timestamp: datetime | None = None
    """When the server stored this state (None for states not read from the server)."""

    def __init__(
        self,
        message: str | None = None,
        result: Any = NoResult,
        context: dict[str, Any] | None = None,
        cached_inputs: dict[str, Result] | None = None,
    ) -> None:
        self.message = message
        self._result: Result = result if isinstance(result, Result) else Result(value=result)
        self.context: dict[str, Any] = context if context is not None else {}
        self.cached_inputs = cached_inputs

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _STATE_TYPES[cls.__name__] = cls

    # --- result ---------------------------------------------------------------------

    @property
    def result(self) -> Any:
        """The state's result value (``None`` when there is no result)."""
        return self._result.value

    @result.setter
    def result(self, value: Any) -> None:
        self._result = value if isinstance(value, Result) else Result(value=value)

    def load_result(self, result: Result | None = None) -> State:
        """Read this state's result value from its location when it is not loaded yet.

        Args:
            result: a Result whose ``read`` is used instead of the state's own (for
                example the task's configured result type).

        Returns:
            This state, with ``_result`` holding the value.
        """
        known = self._result
        if known.value is None and known.location is not None:
            reader = result if result is not None else known
            self._result = reader.read(known.location)
        return self

    def load_cached_results(self, results: dict[str, Result] | None = None) -> State:
        """Read every cached input whose value is not loaded yet.

        Args:
            results: per input name, a Result used to read that input.

        Returns:
            This state.
        """
        if self.cached_inputs:
            readers = results or {}
            for name, res in list(self.cached_inputs.items()):
                if res.value is None and res.location is not None:
                    self.cached_inputs[name] = readers.get(name, res).read(res.location)
        return self

    # --- predicates -----------------------------------------------------------------

    def is_pending(self) -> bool:
        """Whether the state is ``Pending`` or a subclass (scheduled, retrying, meta...)."""
        return isinstance(self, Pending)

    def is_scheduled(self) -> bool:
        """Whether the state is ``Scheduled`` (or ``Paused``/``Resume``/``Retrying``) or ``Queued``."""
        return isinstance(self, (Scheduled, Queued))

    def is_submitted(self) -> bool:
        """Whether the state is ``Submitted``."""
        return isinstance(self, Submitted)

    def is_queued(self) -> bool:
        """Whether the state is ``Queued``."""
        return isinstance(self, Queued)

    def is_paused(self) -> bool:
        """Whether the state is ``Paused``."""
        return isinstance(self, Paused)

    def is_running(self) -> bool:
        """Whether the state is ``Running`` (or ``Cancelling``)."""
        return isinstance(self, Running)

    def is_cancelling(self) -> bool:
        """Whether the state is ``Cancelling``."""
        return isinstance(self, Cancelling)

    def is_finished(self) -> bool:
        """Whether the state is ``Finished`` or any subclass."""
        return isinstance(self, Finished)

    def is_successful(self) -> bool:
        """Whether the state is ``Success`` (or ``Cached``/``Mapped``/``Skipped``)."""
        return isinstance(self, Success)

    def is_failed(self) -> bool:
        """Whether the state is ``Failed`` (or ``TimedOut``/``TriggerFailed``/``ValidationFailed``)."""
        return isinstance(self, Failed)

    def is_skipped(self) -> bool:
        """Whether the state is ``Skipped``."""
        return isinstance(self, Skipped)

    def is_mapped(self) -> bool:
        """Whether the state is ``Mapped``."""
        return isinstance(self, Mapped)

    def is_cached(self) -> bool:
        """Whether the state is ``Cached``."""
        return isinstance(self, Cached)

    def is_looped(self) -> bool:
        """Whether the state is ``Looped``."""
        return isinstance(self, Looped)

    def is_retrying(self) -> bool:
        """Whether the state is ``Retrying``."""
        return isinstance(self, Retrying)

    def is_meta_state(self) -> bool:
        """Whether the state is a meta state wrapping another (``Submitted``, ``Queued``...)."""
        return isinstance(self, MetaState)

    @classmethod
    def children(cls) -> list[type[State]]:
        """Every (direct and indirect) subclass of this state class."""
        found: list[type[State]] = []
        for sub in cls.__subclasses__():
            found.append(sub)
            found.extend(sub.children())
        return found

    @classmethod
    def parents(cls) -> list[type[State]]:
        """Every state class this one derives from, nearest first."""
        return [c for c in cls.__mro__[1:] if issubclass(c, State)]

    # --- dunder ---------------------------------------------------------------------

    def __repr__(self) -> str:
        if self.message is None:
            return f"<{type(self).__name__}>"
        return f'<{type(self).__name__}: "{self.message}">'

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        assert isinstance(other, State)
        if self.message != other.message:
            return False
        mine, theirs = self.result, other.result
        if mine is theirs:
            return True
        try:
            return bool(mine == theirs)
        except Exception:  # values such as arrays have no boolean equality
            return False

    def __hash__(self) -> int:
        return id(self)

    # --- JSON form ------------------------------------------------------------------

    def _extra_fields(self) -> dict[str, Any]:
        return {}

    def serialize(self) -> dict[str, Any]:
        """Return the JSON-safe form of this state (the result as a reference).

        Returns:
            A dict with ``type``, ``message``, ``result`` (a reference or None),
            ``context`` and the subclass's own fields (``start_time``, ``run_count``,
            ``loop_count``, ``n_map_states``, the wrapped ``state``).
        """
        res = self._result
        message = self.message
        data: dict[str, Any] = {
            "type": type(self).__name__,
            "message": message if message is None or isinstance(message, str) else str(message),
            "result": None if res is NoResult else res.to_ref(),
            "context": _json_safe(self.context) if self.context else {},
        }
        if self.cached_inputs:
            data["cached_inputs"] = {k: v.to_ref() for k, v in self.cached_inputs.items()}
        data.update(self._extra_fields())
        return data

    @classmethod
    def _from_fields(cls, data: dict[str, Any], common: dict[str, Any]) -> State:
        return cls(**common)

    @staticmethod
    def deserialize(data: dict[str, Any]) -> State:
        """Rebuild a state from :meth:`serialize`'s JSON form.

        Unknown extra keys are ignored. A ``timestamp`` (set by the server) is kept as
        ``state.timestamp``.

        Args:
            data: the JSON form.

        Returns:
            An instance of the state class named by ``data["type"]``.

        Raises:
            ValueError: when ``data`` is not a dict, has no ``type`` or names an unknown
                state type, or a field has the wrong form.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a serialized state must be a dict, not {type(data).__name__}")
        type_name = data.get("type")
        cls = _STATE_TYPES.get(type_name) if isinstance(type_name, str) else None
        if cls is None:
            raise ValueError(f"unknown state type: {type_name!r}")
        message = data.get("message")
        if message is not None and not isinstance(message, str):
            message = str(message)
        context = data.get("context")
        if context is not None and not isinstance(context, dict):
            raise ValueError(f"state field 'context' must be an object, not {context!r}")
        cached = data.get("cached_inputs")
        cached_inputs = (
            {str(k): result_from_ref(v) for k, v in cached.items()}
            if isinstance(cached, dict)
            else None
        )
        common: dict[str, Any] = {
            "message": message,
            "result": result_from_ref(data.get("result")),
            "context": dict(context) if context else {},
            "cached_inputs": cached_inputs,
        }
        state = cls._from_fields(data, common)
        stamp = data.get("timestamp")
        if stamp is not None:
            state.timestamp = _parse_time(stamp, "timestamp")
        return state


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


def _optional_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"state field {field!r} must be an integer, not {value!r}")
    return value


_STATE_TYPES["State"] = State
