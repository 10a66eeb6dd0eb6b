"""Shared base of the client's resource mixins.

Contract:
    Each resource module defines one mixin holding the methods of one REST resource; the
    mixins only use ``self._transport`` (an :class:`~headwater.client._base.HttpTransport`)
    and the helpers here, so :class:`~headwater.client.Client` is their plain union.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.client._base import HttpTransport
from headwater.engine.state import Pending, State

if TYPE_CHECKING:
    from headwater.engine.state import State

__all__ = ["Resource", "state_from_json", "state_to_json"]


class Resource:
    """Base of the resource mixins: gives them the HTTP transport."""

    _transport: HttpTransport


def state_to_json(state: Any) -> dict[str, Any]:
    """The JSON form of a state given as a State object or as its JSON dict already.

    Raises:
        TypeError: ``state`` is neither.
    """
    if isinstance(state, dict):
        if "type" not in state:
            raise TypeError("a state given as a dict needs a 'type' key")
        return state
    serialize = getattr(state, "serialize", None)
    if callable(serialize):
        data = serialize()
        if isinstance(data, dict):
            return data
    raise TypeError(f"expected a State or its JSON dict, got {type(state).__name__}")


def state_from_json(data: dict[str, Any] | None) -> State:
    """A State from its JSON form (``None`` gives ``Pending``)."""
    if not data:
        return Pending()
    return State.deserialize(data)
