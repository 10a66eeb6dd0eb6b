"""Client methods for the key-value store (``/kv``)."""

from __future__ import annotations

from typing import Any

from headwater.client._base import route
from headwater.client._resource import Resource
from headwater.exceptions import ObjectNotFound

__all__ = ["KVStoreMixin"]

_LIST = route("GET", "/kv")
_SET = route("PUT", "/kv/{key}")
_GET = route("GET", "/kv/{key}")
_DELETE = route("DELETE", "/kv/{key}")


class KVStoreMixin(Resource):
    """Set, read, delete and list keys of the server's key-value store."""

    def set_key_value(self, key: str, value: Any) -> str:
        """Set ``key`` to the JSON value ``value``; returns the pair's id."""
        result: dict[str, Any] = self._transport.json(
            _SET, {"key": key}, json_body={"value": value}
        )
        return str(result["id"])

    def get_key_value(self, key: str) -> Any:
        """The value of ``key``.

        Raises:
            ObjectNotFound: the key does not exist.
        """
        result: dict[str, Any] = self._transport.json(_GET, {"key": key})
        return result["value"]

    def delete_key(self, key: str) -> bool:
        """Delete ``key``; False when it did not exist."""
        try:
            self._transport.call(_DELETE, {"key": key})
        except ObjectNotFound:
            return False
        return True

    def list_keys(self, prefix: str | None = None) -> list[str]:
        """Every key (or those starting with ``prefix``), sorted."""
        result: list[dict[str, Any]] = self._transport.json(_LIST, params={"prefix": prefix})
        return [str(item["key"]) for item in result]

    def get_key_values(self, prefix: str | None = None) -> list[dict[str, Any]]:
        """Every entry ``{id, key, value, created, updated}``, sorted by key."""
        result: list[dict[str, Any]] = self._transport.json(_LIST, params={"prefix": prefix})
        return result
