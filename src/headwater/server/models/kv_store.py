"""The key-value store: small JSON values under string keys (Prefect 1's KV store).

Contract: a key is 1 to 255 characters without control characters; a value is any JSON
value whose compact JSON form fits ``max_value_bytes`` (the server's
``kv_max_value_bytes`` setting, 10 KB by default as in Prefect 1). Setting a key replaces
its value and keeps its id; reading or deleting a missing key raises :class:`NotFound`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.database import orm
from headwater.server.database.engine import insert_unique
from headwater.server.database.orm_backend import KeyValue
from headwater.server.models.errors import InvalidInput, NotFound, TooLarge

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "MAX_KEY_LENGTH",
    "check_key",
    "delete_key",
    "list_keys",
    "read_key",
    "set_key",
]

DEFAULT_MAX_VALUE_BYTES = 10 * 1024
MAX_KEY_LENGTH = 255


def check_key(key: str) -> str:
    """Return ``key`` when it is acceptable.

    Raises:
        InvalidInput: empty, too long, or holding control characters.
    """
    if not key:
        raise InvalidInput("A key must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"A key has at most {MAX_KEY_LENGTH} characters; got {len(key)}.")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise InvalidInput("A key must not contain control characters.")
    return key


def _check_value(value: Any, max_value_bytes: int) -> Any:
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise InvalidInput("The value must be JSON: NaN and infinities are not.") from None
    size = len(text.encode())
    if size > max_value_bytes:
        raise TooLarge(
            f"The value has {size} bytes as JSON; the key-value store accepts at most "
            f"{max_value_bytes} bytes per value."
        )
    return value


async def set_key(
    session: AsyncSession, key: str, value: Any, *, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
) -> KeyValue:
    """Set ``key`` to ``value`` (created, or replaced keeping the id).

    Raises:
        InvalidInput: bad key or value.
        TooLarge: the value is over the limit.
    """
    key = check_key(key)
    value = _check_value(value, max_value_bytes)
    now = orm.utcnow()
    for _ in range(3):
        row = await session.get(KeyValue, key, with_for_update=True, populate_existing=True)
        if row is not None:
            row.value = value
            row.updated = now
            await session.flush()
            return row
        row = KeyValue(key=key, id=orm.new_id(), value=value, created=now, updated=now)
        if await insert_unique(session, row):
            return row
    raise InvalidInput(f"Key {key!r} is being changed concurrently; try again.")


async def read_key(session: AsyncSession, key: str) -> KeyValue:
    """The entry of ``key``.

    Raises:
        NotFound: no such key.
    """
    row = await session.get(KeyValue, key)
    if row is None:
        raise NotFound(f"No value found for key {key!r}.")
    return row


async def delete_key(session: AsyncSession, key: str) -> None:
    """Delete ``key``.

    Raises:
        NotFound: no such key.
    """
    result = await session.execute(delete(KeyValue).where(KeyValue.key == key))
    if getattr(result, "rowcount", 1) == 0:
        raise NotFound(f"No value found for key {key!r}.")


async def list_keys(
    session: AsyncSession, *, prefix: str | None = None, limit: int = 10_000
) -> list[KeyValue]:
    """Entries ordered by key, optionally only keys starting with ``prefix``."""
    query = select(KeyValue)
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(KeyValue.key.like(f"{escaped}%", escape="\\"))
    query = query.order_by(KeyValue.key).limit(limit)
    return list((await session.execute(query)).scalars())
