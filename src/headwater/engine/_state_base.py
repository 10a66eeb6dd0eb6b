"""The base :class:`State`: result handling, predicates, equality and the JSON form.

Contract:
    Private module; import states from :mod:`headwater.engine.state`. Predicates test
    the class's *families*: the names of every state class in its ancestry, computed
    once per class. That keeps a predicate one set lookup and lets this module define
    them without importing the subclasses. Every subclass registers itself by name so
    :meth:`State.deserialize` can rebuild it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from headwater.engine._result_base import NoResult, Result, result_from_ref_lenient

__all__ = ["State"]

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
    _families: ClassVar[frozenset[str]] = frozenset({"State"})

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
        cls._families = frozenset(c.__name__ for c in cls.__mro__ if issubclass(c, State))

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
        return "Pending" in self._families

    def is_scheduled(self) -> bool:
        """Whether the state is ``Scheduled`` (or ``Paused``/``Resume``/``Retrying``) or ``Queued``."""
        families = self._families
        return "Scheduled" in families or "Queued" in families

    def is_submitted(self) -> bool:
        """Whether the state is ``Submitted``."""
        return "Submitted" in self._families

    def is_queued(self) -> bool:
        """Whether the state is ``Queued``."""
        return "Queued" in self._families

    def is_paused(self) -> bool:
        """Whether the state is ``Paused``."""
        return "Paused" in self._families

    def is_running(self) -> bool:
        """Whether the state is ``Running`` (or ``Cancelling``)."""
        return "Running" in self._families

    def is_cancelling(self) -> bool:
        """Whether the state is ``Cancelling``."""
        return "Cancelling" in self._families

    def is_finished(self) -> bool:
        """Whether the state is ``Finished`` or any subclass."""
        return "Finished" in self._families

    def is_successful(self) -> bool:
        """Whether the state is ``Success`` (or ``Cached``/``Mapped``/``Skipped``)."""
        return "Success" in self._families

    def is_failed(self) -> bool:
        """Whether the state is ``Failed`` (or ``TimedOut``/``TriggerFailed``/``ValidationFailed``)."""
        return "Failed" in self._families

    def is_skipped(self) -> bool:
        """Whether the state is ``Skipped``."""
        return "Skipped" in self._families

    def is_mapped(self) -> bool:
        """Whether the state is ``Mapped``."""
        return "Mapped" in self._families

    def is_cached(self) -> bool:
        """Whether the state is ``Cached``."""
        return "Cached" in self._families

    def is_looped(self) -> bool:
        """Whether the state is ``Looped``."""
        return "Looped" in self._families

    def is_retrying(self) -> bool:
        """Whether the state is ``Retrying``."""
        return "Retrying" in self._families

    def is_meta_state(self) -> bool:
        """Whether the state is a meta state wrapping another (``Submitted``, ``Queued``...)."""
        return "MetaState" in self._families

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
            {str(k): result_from_ref_lenient(v) for k, v in cached.items()}
            if isinstance(cached, dict)
            else None
        )
        common: dict[str, Any] = {
            "message": message,
            "result": result_from_ref_lenient(data.get("result")),
            "context": dict(context) if context else {},
            "cached_inputs": cached_inputs,
        }
        state = cls._from_fields(data, common)
        stamp = data.get("timestamp")
        if stamp is not None:
            state.timestamp = _parse_time(stamp, "timestamp")
        return state


def _optional_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"state field {field!r} must be an integer, not {value!r}")
    return value


_STATE_TYPES["State"] = State
