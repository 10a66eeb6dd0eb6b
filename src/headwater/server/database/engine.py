"""Database engines and sessions for SQLite and PostgreSQL.

Contract:

- :func:`normalize_url` turns what users type into an async SQLAlchemy URL: a plain
  ``postgresql://`` or ``postgres://`` URL gets the asyncpg driver; ``sqlite:///path``, a
  bare file path and ``sqlite+aiosqlite://`` URLs become aiosqlite URLs.
- :class:`Database` owns one async engine. ``async with db.session() as session`` yields an
  :class:`~sqlalchemy.ext.asyncio.AsyncSession` that the caller commits. On SQLite the
  session's transaction starts with ``BEGIN IMMEDIATE`` and writers are serialised by an
  in-process lock, because SQLite allows one writer and a deferred transaction that reads
  before it writes can fail to upgrade under concurrency. ``db.read_session()`` is for
  read-only work (long polls, listings): plain deferred transactions, never blocking
  writers. Do not hold a ``session()`` open across a long wait.
- Events recorded with :func:`queue_event` on a session (the one place that builds the
  events of a change) are handed to the event bus right after that session commits, and
  dropped when it rolls back, so subscribers never wake for a change that is not visible
  yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from headwater.server.events import Event

if TYPE_CHECKING:
    from headwater.server.events import EventBus

__all__ = ["Database", "insert_unique", "normalize_url", "queue_event"]

_EVENTS_KEY = "headwater_events"


def normalize_url(url: str) -> str:
    """Return an async SQLAlchemy URL for ``url``.

    Args:
        url: ``postgresql://user@host:port/db``, ``postgres://...``, any
            ``postgresql+driver://`` URL, ``sqlite:///path``, ``sqlite+aiosqlite:///path`` or
            a file path.

    Raises:
        ValueError: The URL names a database other than SQLite or PostgreSQL.
    """
    text = url.strip()
    if not text:
        raise ValueError("The database URL is empty.")
    if "://" not in text:
        return f"sqlite+aiosqlite:///{Path(text).expanduser().resolve()}"
    scheme, rest = text.split("://", 1)
    scheme_lower = scheme.lower()
    if scheme_lower in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"):
        return f"postgresql+asyncpg://{rest}"
    if scheme_lower == "postgresql+psycopg":
        return text
    if scheme_lower in ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"):
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(
        f"Unsupported database URL scheme {scheme!r}: use a postgresql:// URL or a SQLite path."
    )


def dialect_of(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"`` for a (normalised or raw) database URL."""
    return "sqlite" if normalize_url(url).startswith("sqlite") else "postgresql"


def queue_event(
    session: AsyncSession | Session,
    kind: str,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Build an :class:`~headwater.server.events.Event` and publish it once ``session``'s
    current transaction commits (it is dropped on rollback).

    Returns:
        The queued event.
    """
    event = Event(kind, flow_run_id=flow_run_id, task_run_id=task_run_id, data=data or {})
    target = session.sync_session if isinstance(session, AsyncSession) else session
    target.info.setdefault(_EVENTS_KEY, []).append(event)
    return event


async def insert_unique(session: AsyncSession, *rows: object) -> bool:
    """Insert ``rows`` together; False (all discarded) when a constraint refuses them.

    On PostgreSQL the insert runs in a savepoint so that the transaction stays usable for
    re-reading the winner. On SQLite writers are serialised (``BEGIN IMMEDIATE``), so the
    caller's check just before cannot be overtaken and no savepoint is needed.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.add_all(rows)
        await session.flush()
        return True
    try:
        async with session.begin_nested():
            session.add_all(rows)
            await session.flush()
    except IntegrityError:
        return False
    return True


class Database:
    """An async engine plus session factories.

    Args:
        url: Database URL in any form :func:`normalize_url` accepts.
        events: Bus that receives events queued on sessions after commit.
        sqlite_synchronous: SQLite's ``synchronous`` pragma: ``FULL`` (default) makes
            every commit durable across power loss; ``NORMAL`` is faster and still
            survives a crash of the server process.
    """

    def __init__(
        self, url: str, events: EventBus | None = None, *, sqlite_synchronous: str = "FULL"
    ) -> None:
        if sqlite_synchronous.upper() not in ("FULL", "NORMAL", "EXTRA", "OFF"):
            raise ValueError(
                f"sqlite_synchronous must be FULL, NORMAL, EXTRA or OFF, got {sqlite_synchronous!r}"
            )
        self.sqlite_synchronous = sqlite_synchronous.upper()
        self.url = normalize_url(url)
        self.dialect = dialect_of(self.url)
        self.events = events
        self.engine: AsyncEngine = self._create_engine()
        # A session class per database, so commit hooks reach this database's bus only.
        self._session_class: type[Session] = type("HeadwaterSession", (Session,), {})
        sa_event.listen(self._session_class, "after_commit", self._after_commit)
        sa_event.listen(self._session_class, "after_rollback", self._after_rollback)
        self._factory = self._make_factory(self.engine)
        self._read_engine: AsyncEngine | None = None
        self._read_factory: async_sessionmaker[AsyncSession] | None = None
        self._write_lock: asyncio.Lock | None = None

    def _make_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=self._session_class
        )

    # -- engine set-up -----------------------------------------------------------------

    def _create_engine(self, *, immediate: bool = True) -> AsyncEngine:
        if self.dialect == "postgresql":
            return create_async_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        parsed = make_url(self.url)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(self.url, connect_args={"timeout": 30})
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        synchronous = self.sqlite_synchronous

        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

        def on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        sa_event.listen(engine.sync_engine, "connect", on_connect)
        sa_event.listen(engine.sync_engine, "begin", on_begin)
        return engine

    # -- sessions ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-write session; the caller commits. Rolled back on error or if left
        uncommitted."""
        if self.dialect == "sqlite":
            if self._write_lock is None:
                self._write_lock = asyncio.Lock()
            async with self._write_lock, self._factory() as session:
                yield session
        else:
            async with self._factory() as session:
                yield session

    @contextlib.asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only; never blocks writers."""
        if self.dialect == "postgresql":
            async with self._factory() as session:
                yield session
            return
        if self._read_factory is None:
            self._read_engine = self._create_engine(immediate=False)
            self._read_factory = self._make_factory(self._read_engine)
        async with self._read_factory() as session:
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._read_engine is not None:
            await self._read_engine.dispose()

    # -- events ------------------------------------------------------------------------

    def _after_commit(self, session: Session) -> None:
        events: list[Event] = session.info.pop(_EVENTS_KEY, [])
        if self.events is None:
            return
        for event in events:
            self.events.publish_nowait(event)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_EVENTS_KEY, None)
