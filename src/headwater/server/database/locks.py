"""PostgreSQL advisory locks: the one helper every caller takes them with.

Contract: :func:`advisory_lock` makes the transactions that take one key run their
critical part in turn on PostgreSQL: the lock is held until the caller's transaction
commits or rolls back. On SQLite (one server process per file, whose writers the
database layer serialises anyway) it does nothing. A text key is hashed by the database
(``hashtext``); an integer key is used as is.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

__all__ = ["advisory_lock"]


async def advisory_lock(conn: AsyncSession | AsyncConnection, key: str | int) -> None:
    """Wait for PostgreSQL's advisory lock on ``key``, held until the transaction ends.

    Args:
        conn: The session or connection whose transaction (begun now if none is) takes
            the lock.
        key: The lock's name (hashed by the database) or number.
    """
    dialect = conn.get_bind().dialect if isinstance(conn, AsyncSession) else conn.dialect
    if dialect.name != "postgresql":
        return
    value = "hashtext(:key)" if isinstance(key, str) else "CAST(:key AS bigint)"
    await conn.execute(text(f"SELECT pg_advisory_xact_lock({value})"), {"key": key})
