"""Database maintenance: ``VACUUM`` for SQLite and PostgreSQL.

Contract: :func:`vacuum` returns space that deleted rows left behind (after retention or
``DELETE`` of runs) and refreshes the planner's statistics. On SQLite it checkpoints the
write-ahead log, then rebuilds the file (``VACUUM``; it needs about as much free disk as
the database and waits for, then briefly blocks, writers); on PostgreSQL it runs
``VACUUM (ANALYZE)`` on Headwater's tables, which does not block readers or writers. It
returns the database size in bytes before and after (SQLite: file plus WAL; PostgreSQL:
``pg_database_size``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from headwater.server.database.engine import Database, normalize_url
from headwater.server.database.orm import Base

__all__ = ["vacuum"]


def _sqlite_size(path: str) -> int:
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += os.path.getsize(path + suffix)
        except OSError:
            pass
    return total


def _vacuum_sqlite(path: str) -> dict[str, Any]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"no SQLite database at {path}")
    before = _sqlite_size(path)
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=60000")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()
    return {"database": "sqlite", "before_bytes": before, "after_bytes": _sqlite_size(path)}


async def vacuum(url: str) -> dict[str, Any]:
    """Vacuum the database at ``url`` (any form :func:`normalize_url` accepts).

    Returns:
        ``{"database": "sqlite"|"postgresql", "before_bytes": int, "after_bytes": int}``.
    """
    normalized = normalize_url(url)
    if normalized.startswith("sqlite"):
        path = make_url(normalized).database or ""
        return await asyncio.to_thread(_vacuum_sqlite, path)
    db = Database(url)
    try:
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            size = text("SELECT pg_database_size(current_database())")
            before = int((await conn.execute(size)).scalar() or 0)
            tables = ", ".join(f'"{name}"' for name in sorted(Base.metadata.tables))
            await conn.execute(text(f"VACUUM (ANALYZE) {tables}"))
            after = int((await conn.execute(size)).scalar() or 0)
    finally:
        await db.dispose()
    return {"database": "postgresql", "before_bytes": before, "after_bytes": after}
