"""Serializers turn task results into bytes and back.

Contract:
    A :class:`Serializer` has ``serialize(value) -> bytes`` and ``deserialize(bytes) ->
    value``; it holds no per-value state, so one instance may be shared freely.
    ``to_ref()`` gives a JSON-safe dict (``{"type": "<class name>", ...}``) and
    :func:`serializer_from_ref` turns that dict back into an equal serializer. Results
    store the reference next to their location so a reader can decode the bytes without
    knowing how they were written.

    :class:`PickleSerializer` (cloudpickle, the default) handles any Python value;
    :class:`JSONSerializer` handles JSON values; :class:`DateTimeSerializer` stores a
    ``datetime`` as ISO-8601 text. Heavy imports (cloudpickle) happen on first use so that
    ``import headwater`` stays fast.
"""

from __future__ import annotations

import json
import pickle
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "DateTimeSerializer",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "serializer_from_ref",
]

_REGISTRY: dict[str, type[Serializer]] = {}


class Serializer:
    """Base class of serializers: bytes in, value out, and the reverse.

    Subclasses are registered by class name so that :func:`serializer_from_ref` can
    rebuild them from their reference.
    """

    type_name: ClassVar[str] = "Serializer"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        _REGISTRY[cls.__name__] = cls

    def serialize(self, value: Any) -> bytes:
        """Turn a value into bytes.

        Args:
            value: the value to encode.

        Returns:
            The encoded bytes.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement serialize()")

    def deserialize(self, value: bytes) -> Any:
        """Turn bytes written by :meth:`serialize` back into the value.

        Args:
            value: the encoded bytes.

        Returns:
            The decoded value.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement deserialize()")

    def to_ref(self) -> dict[str, Any]:
        """Return the JSON-safe reference from which :func:`serializer_from_ref` rebuilds this."""
        return {"type": type(self).__name__}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_ref() == other.to_ref()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PickleSerializer(Serializer):
    """Serialize any Python value with cloudpickle (so lambdas and local classes work)."""

    def serialize(self, value: Any) -> bytes:
        """Pickle ``value`` with cloudpickle."""
        # deferred: cloudpickle costs ~40 ms; `import headwater` loads this module.
        import cloudpickle

        return bytes(cloudpickle.dumps(value))

    def deserialize(self, value: bytes) -> Any:
        """Unpickle bytes written by :meth:`serialize`.

        Raises:
            ValueError: when the bytes are not a pickle.
        """
        try:
            return pickle.loads(value)
        except (pickle.UnpicklingError, EOFError, TypeError) as exc:
            raise ValueError(f"PickleSerializer could not deserialize the data: {exc}") from exc


class JSONSerializer(Serializer):
    """Serialize JSON values (dicts, lists, strings, numbers, booleans, None).

    Args:
        dumps_kwargs: extra keyword arguments for ``json.dumps`` (for example
            ``{"default": str}``); must be JSON-safe to survive :meth:`to_ref`.
        loads_kwargs: extra keyword arguments for ``json.loads``.
    """

    def __init__(
        self,
        dumps_kwargs: dict[str, Any] | None = None,
        loads_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.dumps_kwargs = dict(dumps_kwargs or {})
        self.loads_kwargs = dict(loads_kwargs or {})

    def serialize(self, value: Any) -> bytes:
        """Encode ``value`` as UTF-8 JSON.

        Raises:
            TypeError: when the value is not JSON-serializable.
        """
        try:
            return json.dumps(value, **self.dumps_kwargs).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"JSONSerializer cannot serialize {type(value).__name__}: {exc}"
            ) from exc

    def deserialize(self, value: bytes) -> Any:
        """Decode UTF-8 JSON bytes.

        Raises:
            ValueError: when the bytes are not valid JSON.
        """
        try:
            return json.loads(value, **self.loads_kwargs)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"JSONSerializer could not deserialize the data: {exc}") from exc

    def to_ref(self) -> dict[str, Any]:
        """Return the reference, including non-default keyword arguments."""
        ref: dict[str, Any] = {"type": "JSONSerializer"}
        if self.dumps_kwargs:
            ref["dumps_kwargs"] = self.dumps_kwargs
        if self.loads_kwargs:
            ref["loads_kwargs"] = self.loads_kwargs
        return ref


class DateTimeSerializer(Serializer):
    """Serialize a ``datetime`` as ISO-8601 text (offset kept when present)."""

    def serialize(self, value: Any) -> bytes:
        """Encode a datetime.

        Raises:
            TypeError: when ``value`` is not a datetime.
        """
        if not isinstance(value, datetime):
            raise TypeError(
                f"DateTimeSerializer can only serialize datetime values, not {type(value).__name__}"
            )
        return value.isoformat().encode("utf-8")

    def deserialize(self, value: bytes) -> datetime:
        """Decode ISO-8601 bytes into a datetime.

        Raises:
            ValueError: when the text is not an ISO-8601 timestamp.
        """
        try:
            return datetime.fromisoformat(value.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"DateTimeSerializer could not deserialize the data: {exc}") from exc


def serializer_from_ref(ref: dict[str, Any] | str | None) -> Serializer:
    """Rebuild a serializer from its reference.

    Args:
        ref: a dict from :meth:`Serializer.to_ref`, a bare class name, or None (which
            gives the default :class:`PickleSerializer`).

    Returns:
        The serializer.

    Raises:
        ValueError: when the reference names no known serializer.
    """
    if ref is None:
        return PickleSerializer()
    if isinstance(ref, str):
        ref = {"type": ref}
    if not isinstance(ref, dict) or "type" not in ref:
        raise ValueError(f"invalid serializer reference: {ref!r}")
    cls = _REGISTRY.get(str(ref["type"]))
    if cls is None:
        raise ValueError(f"unknown serializer type: {ref['type']!r}")
    if cls is JSONSerializer:
        return JSONSerializer(
            dumps_kwargs=ref.get("dumps_kwargs"), loads_kwargs=ref.get("loads_kwargs")
        )
    return cls()
