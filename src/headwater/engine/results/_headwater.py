"""Results whose value is kept inside the location string itself.

Contract:
    :class:`HeadwaterResult` serializes the value (JSON by default) into ``location``, so
    the reference alone carries the value to the server and back: no storage is needed.
    Meant for small JSON values such as ids and parameters.
"""

from __future__ import annotations

from typing import Any

from headwater.engine._result_base import Result, _serializer_of
from headwater.engine.serializers import JSONSerializer, Serializer

__all__ = ["HeadwaterResult"]

_JSON = JSONSerializer()


class HeadwaterResult(Result):
    """A result stored as serialized text in its own location.

    Args:
        value: the value, if known.
        location: the serialized value, if known.
        serializer: defaults to :class:`~headwater.engine.serializers.JSONSerializer`;
            its bytes must be UTF-8 text.
    """

    def _default_serializer(self) -> Serializer:
        return _JSON

    def write(self, value_: Any, **kwargs: Any) -> HeadwaterResult:
        """Serialize ``value_`` into the location.

        Raises:
            TypeError: when the value cannot be serialized (for JSON: not a JSON value).
        """
        new = self.copy()
        data = new.serializer.serialize(value_)
        try:
            new.location = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TypeError(
                f"HeadwaterResult needs a text serializer, {new.serializer!r} produced binary data"
            ) from None
        new.value = value_
        return new

    def read(self, location: str) -> HeadwaterResult:
        """Return a Result holding the value serialized in ``location``.

        Raises:
            ValueError: when ``location`` is not a serialized value.
        """
        new = self.copy()
        new.location = location
        new.value = new.serializer.deserialize(location.encode("utf-8"))
        return new

    def exists(self, location: str, **kwargs: Any) -> bool:
        """Whether ``location`` holds a value the serializer can read."""
        try:
            self.serializer.deserialize(location.encode("utf-8"))
        except (ValueError, TypeError):
            return False
        return True

    @classmethod
    def _from_ref(cls, ref: dict[str, Any]) -> Result:
        return cls(location=ref.get("location"), serializer=_serializer_of(ref))
