"""Schema migrations run from code (server start, ``headwater server database ...``).

Contract: :func:`upgrade` brings a database to the newest revision and is safe to call at
every start (a no-op when current, and serialised across processes on PostgreSQL by an
advisory lock); :func:`reset` drops every table and upgrades again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from headwater.server.database.engine import Database
from headwater.server.database.locks import advisory_lock
from headwater.server.database.orm import Base

__all__ = ["HEAD", "current_revision", "head_revision", "reset", "upgrade"]

#: The newest revision in ``migrations/versions``; a test keeps it in step with Alembic.
#: Knowing it lets a server whose database is current start without importing Alembic.
HEAD = "0010"

_MIGRATIONS = Path(__file__).with_name("migrations")
# Arbitrary constant: every server process takes this advisory lock while migrating.
_PG_LOCK_KEY = 0x6877_0001


def _config(connection: Any) -> Any:
    from alembic.config import Config  # deferred: a current database starts without Alembic

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade_sync(connection: Any) -> None:
    from alembic import command  # deferred: a current database starts without Alembic

    command.upgrade(_config(connection), "head")


def _reset_sync(connection: Any) -> None:
    from alembic import command  # deferred: a current database starts without Alembic

    Base.metadata.drop_all(connection)
    connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    command.upgrade(_config(connection), "head")


async def _run(db: Database, fn: Any) -> None:
    async with db.engine.connect() as conn:
        # One transaction from the lock to the commit: Alembic runs inside it (it does not
        # begin its own on a connection already in a transaction), and the lock is
        # released when it commits, or rolls back as the connection closes on an error.
        await advisory_lock(conn, _PG_LOCK_KEY)
        await conn.run_sync(fn)
        await conn.commit()


async def upgrade(db: Database) -> None:
    """Apply every pending migration to ``db`` (a quick no-op when it is current)."""
    if await _stored_revision(db) == HEAD:
        return
    await _run(db, _upgrade_sync)


async def _stored_revision(db: Database) -> str | None:
    try:
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:
        return None  # no table yet: a new database
    return str(rows[0][0]) if len(rows) == 1 else None


def head_revision() -> str | None:
    """The head revision according to Alembic's script directory."""
    # deferred: a current database starts without Alembic
    from alembic.script import ScriptDirectory

    config = _config(None)
    head: str | None = ScriptDirectory.from_config(config).get_current_head()
    return head


async def reset(db: Database) -> None:
    """Drop all Headwater tables in ``db`` and recreate them (all data is lost)."""
    await _run(db, _reset_sync)


async def current_revision(db: Database) -> str | None:
    """The revision ``db`` is at, or ``None`` for an empty database."""

    def read(connection: Any) -> str | None:
        # deferred: a current database starts without Alembic
        from alembic.migration import MigrationContext

        rev: str | None = MigrationContext.configure(connection).get_current_revision()
        return rev

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)
