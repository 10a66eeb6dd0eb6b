"""The Result interface, the NoResult sentinel and result references.

Contract:
    A :class:`Result` pairs a value with a *location* where that value is (or will be)
    kept, and the serializer used to turn it into bytes. Results are immutable in use:
    :meth:`Result.write` and :meth:`Result.read` return *new* Result objects, so one
    configured Result (for example a task's ``result=LocalResult(dir=...)``) can be shared
    by every run of a task.

    ``location`` may be a template such as ``"{flow_name}/{task_name}-{map_index}.pkl"``;
    :meth:`Result.format` fills it from ``headwater.context`` plus keyword arguments.

    ``to_ref()`` gives a JSON-safe reference (type, location, serializer and the
    subclass's own settings, never the value); :func:`result_from_ref` rebuilds a Result
    from it. This is how states carry results to and from the server.

    Reading a location that holds nothing raises ``FileNotFoundError`` naming the
    location.

    This module belongs to the state layer (states hold results), below the graph; the
    concrete results sit above it. A reference naming a built-in type loads that type's
    module by name on first use (:data:`_BUILTIN_MODULES`), so the state layer imports
    none of them.
"""

from __future__ import annotations

import copy
import importlib
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from headwater.engine.serializers import PickleSerializer, Serializer, serializer_from_ref
from headwater.utilities.context import context

__all__ = [
    "NoResult",
    "NoResultType",
    "Result",
    "UnresolvedResult",
    "register_result_type",
    "result_from_ref",
    "result_from_ref_lenient",
]

R = TypeVar("R", bound="Result")

_REGISTRY: dict[str, type[Result]] = {}

# Where the built-in result types are defined, by the type name a reference carries.
_BUILTIN_MODULES = {
    "LocalResult": "headwater.engine.results._local",
    "FSSpecResult": "headwater.engine.results._fsspec",
    "S3Result": "headwater.engine.results._fsspec",
    "GCSResult": "headwater.engine.results._fsspec",
    "HeadwaterResult": "headwater.engine.results._headwater",
    "ServerResult": "headwater.engine.backend._server_result",
}

# Serializers are stateless, so every Result without an explicit one shares this instance;
# that keeps ``Result(value)`` (created for every successful task) allocation-light.
_DEFAULT_SERIALIZER = PickleSerializer()


def register_result_type(cls: type[R]) -> type[R]:
    """Register a Result subclass under its class name for :func:`result_from_ref`.

    Subclasses are registered automatically; this is for registering an alias name.
    """
    _REGISTRY[cls.__name__] = cls
    return cls


def _date_values() -> dict[str, Any]:
    now = datetime.now(UTC)
    today = now.date()
    one = timedelta(days=1)
    return {
        "date": now,
        "today": today.isoformat(),
        "yesterday": (today - one).isoformat(),
        "tomorrow": (today + one).isoformat(),
        "today_nodash": today.strftime("%Y%m%d"),
        "yesterday_nodash": (today - one).strftime("%Y%m%d"),
        "tomorrow_nodash": (today + one).strftime("%Y%m%d"),
    }


def format_location(template: str, **kwargs: Any) -> str:
    """Fill a location template from ``headwater.context``, date values and ``kwargs``.

    Args:
        template: a ``str.format`` template such as ``"{flow_name}/{task_slug}.pkl"``.
        **kwargs: values that take precedence over the context.

    Returns:
        The filled-in location.

    Raises:
        ValueError: when the template names a value that is neither in the context nor
            in ``kwargs``.
    """
    if "{" not in template:
        return template
    values = _date_values()
    values.update(context.to_dict())
    values.update(kwargs)
    try:
        return template.format(**values)
    except KeyError as exc:
        raise ValueError(
            f"cannot format result location {template!r}: no value for {exc.args[0]!r} "
            "in the run context or the keyword arguments"
        ) from None
    except (IndexError, AttributeError, ValueError) as exc:
        raise ValueError(f"cannot format result location {template!r}: {exc}") from None


class Result:
    """A value, where it is kept, and how it is serialized.

    The base class keeps the value in memory only: :meth:`read`, :meth:`write` and
    :meth:`exists` are implemented by the storage-backed subclasses.

    Args:
        value: the value, if known.
        location: where the value is kept; may be a template (see :meth:`format`).
        serializer: how the value becomes bytes; defaults to :class:`PickleSerializer`.
    """

    type_name: ClassVar[str] = "Result"

    def __init__(
        self,
        value: Any = None,
        location: str | None = None,
        serializer: Serializer | None = None,
    ) -> None:
        self.value = value
        self.location = location
        self._serializer = serializer

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        _REGISTRY[cls.__name__] = cls

    @property
    def serializer(self) -> Serializer:
        """The serializer used to turn the value into bytes."""
        return self._serializer if self._serializer is not None else self._default_serializer()

    @serializer.setter
    def serializer(self, value: Serializer | None) -> None:
        self._serializer = value

    def _default_serializer(self) -> Serializer:
        return _DEFAULT_SERIALIZER

    # --- value handling -------------------------------------------------------------

    def copy(self: R) -> R:
        """Return a shallow copy (the value object itself is shared, not copied)."""
        return copy.copy(self)

    def format(self: R, **kwargs: Any) -> R:
        """Return a copy whose location template is filled in.

        Values come from ``headwater.context`` (``flow_name``, ``task_name``,
        ``task_slug``, ``map_index``, ``flow_run_id``, ``flow_run_name``,
        ``task_run_id``, ``task_full_name``, ``parameters``...), date values (``date``,
        ``today``, ``yesterday``, ``tomorrow`` and their ``_nodash`` forms) and
        ``kwargs``, which win.

        Raises:
            ValueError: when the template names an unknown value.
        """
        new = self.copy()
        if isinstance(new.location, str):
            new.location = format_location(new.location, **kwargs)
        return new

    def read(self: R, location: str) -> R:
        """Return a new Result holding the value stored at ``location``.

        Raises:
            FileNotFoundError: when nothing is stored at ``location``.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot read stored values")

    def write(self: R, value_: Any, **kwargs: Any) -> R:
        """Store ``value_`` and return a new Result holding it and its location.

        Args:
            value_: the value to store.
            **kwargs: values for the location template (see :meth:`format`).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot store values")

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether a value is stored at ``location`` (a template, filled from ``kwargs``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot check stored values")

    # --- references -----------------------------------------------------------------

    def to_ref(self) -> dict[str, Any]:
        """Return a JSON-safe reference to this result (never including the value)."""
        ref: dict[str, Any] = {"type": type(self).__name__, "location": self.location}
        if self._serializer is not None:
            ref["serializer"] = self._serializer.to_ref()
        else:
            ref["serializer"] = self._default_serializer().to_ref()
        return ref

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return cls(location=ref.get("location"), serializer=_serializer_of(ref))

    # --- dunder ---------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        assert isinstance(other, Result)
        if self.location != other.location:
            return False
        try:
            return bool(self.value == other.value)
        except Exception:  # values such as arrays have no boolean equality
            return self.value is other.value

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        if self.location is not None and self.value is None:
            return f"<{type(self).__name__}: location={self.location!r}>"
        return f"<{type(self).__name__}: {self.value!r}>"


def _serializer_of(ref: dict[str, Any]) -> Serializer | None:
    raw = ref.get("serializer")
    return None if raw is None else serializer_from_ref(raw)


class NoResultType(Result):
    """The absence of a result (different from a result whose value is ``None``).

    There is one instance, :data:`NoResult`. Its value is ``None``; reading and writing
    return it unchanged.
    """

    _instance: ClassVar[NoResultType | None] = None

    def __new__(cls) -> NoResultType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __init__(self) -> None:
        self.value = None
        self.location = None
        self._serializer = None

    def copy(self: R) -> R:
        return self

    def read(self: R, location: str) -> R:
        return self

    def write(self: R, value_: Any, **kwargs: Any) -> R:
        return self

    def exists(self, location: str, **kwargs: Any) -> bool:
        return False

    def to_ref(self) -> dict[str, Any]:
        return {"type": "NoResult"}

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return NoResult

    def __eq__(self, other: object) -> bool:
        return type(other) is NoResultType

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<NoResult>"

    def __str__(self) -> str:
        return "NoResult"

    def __reduce__(self) -> str:
        # keep the singleton across pickling (identity checks rely on it)
        return "NoResult"

    def __copy__(self) -> NoResultType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> NoResultType:
        return self


NoResult = NoResultType()
_REGISTRY["NoResult"] = NoResultType
_REGISTRY["Result"] = Result


class UnresolvedResult(Result):
    """A reference to a result whose type is not known in this process.

    States read from the server keep such references intact (``to_ref()`` returns the
    original reference), so reading a state never fails because of a result type the
    reader has not imported; only reading the value does.

    Args:
        ref: the original reference.
    """

    def __init__(self, ref: dict[str, Any]) -> None:
        super().__init__(location=ref.get("location"))
        self.ref = dict(ref)

    def _unavailable(self) -> ValueError:
        return ValueError(
            f"result type {self.ref.get('type')!r} is not known in this process; import the "
            "module that defines it to read this result"
        )

    def read(self, location: str) -> UnresolvedResult:
        raise self._unavailable()

    def write(self, value_: Any, **kwargs: Any) -> UnresolvedResult:
        raise self._unavailable()

    def exists(self, location: str, **kwargs: Any) -> bool:
        raise self._unavailable()

    def to_ref(self) -> dict[str, Any]:
        return dict(self.ref)


def result_from_ref_lenient(ref: dict[str, Any] | None) -> Result:
    """Like :func:`result_from_ref`, but an unknown type gives an :class:`UnresolvedResult`.

    Raises:
        ValueError: when the reference is malformed.
    """
    try:
        return result_from_ref(ref)
    except ValueError:
        if isinstance(ref, dict) and isinstance(ref.get("type"), str):
            return UnresolvedResult(ref)
        raise


def result_from_ref(ref: dict[str, Any] | None) -> Result:
    """Rebuild a Result from a reference made by :meth:`Result.to_ref`.

    Args:
        ref: the reference dict, or None for :data:`NoResult`.

    Returns:
        A Result of the referenced type with its location and serializer set (the
        value is read later with :meth:`Result.read`).

    Raises:
        ValueError: when the reference is malformed or names an unknown result type.
    """
    if ref is None:
        return NoResult
    if not isinstance(ref, dict) or not isinstance(ref.get("type"), str):
        raise ValueError(f"invalid result reference (expected a dict with a 'type'): {ref!r}")
    cls = _REGISTRY.get(ref["type"])
    if cls is None and ref["type"] in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[ref["type"]])  # registers its types
        cls = _REGISTRY.get(ref["type"])
    if cls is None or cls.__name__ == "UnresolvedResult":
        raise ValueError(f"unknown result type: {ref['type']!r}")
    return cls._from_ref(ref)
