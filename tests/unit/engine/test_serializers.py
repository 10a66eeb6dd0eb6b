"""Serializers: round trips, references and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headwater.engine.serializers import (
    DateTimeSerializer,
    JSONSerializer,
    PickleSerializer,
    Serializer,
    serializer_from_ref,
)


def test_pickle_round_trips_local_functions() -> None:
    factor = 3

    def triple(x: int) -> int:
        return x * factor

    ser = PickleSerializer()
    data = ser.serialize(triple)
    assert isinstance(data, bytes)
    assert ser.deserialize(data)(2) == 6


def test_json_round_trip_and_kwargs() -> None:
    ser = JSONSerializer()
    assert ser.deserialize(ser.serialize({"a": [1, 2.5, None, True]})) == {
        "a": [1, 2.5, None, True]
    }
    custom = JSONSerializer(dumps_kwargs={"sort_keys": True})
    assert custom.serialize({"b": 1, "a": 2}) == b'{"a": 2, "b": 1}'
    assert serializer_from_ref(custom.to_ref()) == custom


def test_datetime_round_trip() -> None:
    ser = DateTimeSerializer()
    when = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert ser.deserialize(ser.serialize(when)) == when


@pytest.mark.parametrize("cls", [PickleSerializer, JSONSerializer, DateTimeSerializer])
def test_references(cls: type[Serializer]) -> None:
    ser = cls()
    assert ser.to_ref() == {"type": cls.__name__}
    assert serializer_from_ref(ser.to_ref()) == ser
    assert serializer_from_ref(cls.__name__) == ser


def test_default_reference_is_pickle() -> None:
    assert serializer_from_ref(None) == PickleSerializer()


def test_errors_name_the_problem() -> None:
    with pytest.raises(TypeError, match="JSONSerializer cannot serialize set"):
        JSONSerializer().serialize({1})
    with pytest.raises(ValueError, match="JSONSerializer could not deserialize"):
        JSONSerializer().deserialize(b"{nope")
    with pytest.raises(ValueError, match="PickleSerializer could not deserialize"):
        PickleSerializer().deserialize(b"not a pickle")
    with pytest.raises(TypeError, match="datetime"):
        DateTimeSerializer().serialize("2026")
    with pytest.raises(ValueError, match="DateTimeSerializer"):
        DateTimeSerializer().deserialize(b"yesterday")
    with pytest.raises(ValueError, match="unknown serializer type: 'Nope'"):
        serializer_from_ref({"type": "Nope"})
    with pytest.raises(ValueError, match="invalid serializer reference"):
        serializer_from_ref({"no": "type"})
