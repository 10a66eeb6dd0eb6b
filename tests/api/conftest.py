"""Fixtures of the in-process API tests: the same tests on SQLite and on PostgreSQL.

- ``database_url`` is parametrized over ``sqlite`` (a fresh file per test) and
  ``postgresql`` (one database per test session or xdist worker, created with
  :func:`headwater.testing.temporary_postgres_database`; tables are truncated before each
  test). PostgreSQL params are skipped only when PostgreSQL is unreachable and ``CI`` is
  not ``"true"``.
- ``app`` is the real application with its lifespan running (migrations, event bus;
  background services off so they cannot interfere); ``client`` is an
  ``httpx.AsyncClient`` on it with ``base_url`` ending in ``/api``.
- ``api`` wraps ``client`` with helpers that assert status codes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _core_support import TABLES as _TABLES
from _core_support import Api

from headwater.testing import DEFAULT_POSTGRES_URL, postgres_available, temporary_postgres_database


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str | None]:
    if not postgres_available(DEFAULT_POSTGRES_URL):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required in CI but is not reachable.")
        yield None
        return
    with temporary_postgres_database(DEFAULT_POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _postgres_url: str | None) -> str:
    """A database URL for one test: a fresh SQLite file or the session's PG database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'headwater.db'}"
    if _postgres_url is None:
        pytest.skip("PostgreSQL is not reachable")
    return _postgres_url


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The application with its lifespan running."""
    from sqlalchemy import text

    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    settings = ServerSettings(
        home=tmp_path,
        database_url=database_url,
        start_services=False,
        max_result_bytes=1024 * 1024,
        max_request_bytes=1024 * 1024,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        db = application.state.db
        if db.dialect == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the in-process app; paths are relative to ``/api``."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    """Status-checking helpers over ``client``."""
    return Api(client)
