"""Schema migrations run from code (server start, ``headwater server database ...``).

Contract: :func:`upgrade` brings a database to the newest revision and is safe to call at
every start (a no-op when current, and serialised across processes on PostgreSQL by an
advisory lock); :func:`reset` drops every table and upgrades again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater.server.database.engine import Database

__all__ = ["current_revision", "reset", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")
# Arbitrary constant: every server process takes this advisory lock while migrating.
_PG_LOCK_KEY = 0x6877_0001


def _config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade_sync(connection: Any) -> None:
    from alembic import command

    command.upgrade(_config(connection), "head")


def _reset_sync(connection: Any) -> None:
    from alembic import command

    from headwater.server.database.orm import Base

    Base.metadata.drop_all(connection)
    connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    command.upgrade(_config(connection), "head")


async def _run(db: Database, fn: Any) -> None:
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_LOCK_KEY})")
            await conn.commit()
        try:
            await conn.run_sync(fn)
            await conn.commit()
        finally:
            if db.dialect == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_LOCK_KEY})")
                await conn.commit()


async def upgrade(db: Database) -> None:
    """Apply every pending migration to ``db``."""
    await _run(db, _upgrade_sync)


async def reset(db: Database) -> None:
    """Drop all Headwater tables in ``db`` and recreate them (all data is lost)."""
    await _run(db, _reset_sync)


async def current_revision(db: Database) -> str | None:
    """The revision ``db`` is at, or ``None`` for an empty database."""

    def read(connection: Any) -> str | None:
        from alembic.migration import MigrationContext

        rev: str | None = MigrationContext.configure(connection).get_current_revision()
        return rev

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)
